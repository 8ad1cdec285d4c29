#!/bin/sh
# ynl: the guest kernel's own netlink CLI (tools/net/ynl from Debian's linux-source-X.Y),
# installed by provision.sh as /usr/local/bin/ynl, with the specs of the same kernel.
#
#   ynl --family netdev --dump dev-get
#   ynl --list-families
#
# `--family NAME` becomes `--spec <specs>/NAME.yaml` (6.12's cli.py has no --family), and
# --no-schema is added unless --schema, --no-schema or --validate is given: the specs come
# with the kernel, and checking them would need the jsonschema module, which the guest lacks.
set -eu
specs=$(cat /etc/vnet-lab/ynl-specs)
cli=$(cat /etc/vnet-lab/ynl-cli)
schema=--no-schema
n=$#
while [ "$n" -gt 0 ]; do
	arg=$1
	shift
	n=$((n - 1))
	case "$arg" in
	--family | --family=*)
		if [ "$arg" = --family ]; then
			if [ "$n" -eq 0 ]; then
				echo "ynl: --family needs a name" >&2
				exit 2
			fi
			family=$1
			shift
			n=$((n - 1))
		else
			family=${arg#--family=}
		fi
		set -- "$@" --spec "$specs/$family.yaml"
		;;
	--list-families)
		ls "$specs" | sed -n 's/\.yaml$//p'
		exit 0
		;;
	--schema | --schema=* | --no-schema | --validate)
		schema=""
		set -- "$@" "$arg"
		;;
	*) set -- "$@" "$arg" ;;
	esac
done
exec python3 "$cli" ${schema:+"$schema"} "$@"
