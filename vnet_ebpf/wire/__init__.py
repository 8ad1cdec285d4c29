"""``vnet-wire``: two vnet devices joined by a wire through /dev/vnet, optionally
with delay, loss, a rate limit and a pcap of what crosses it."""
