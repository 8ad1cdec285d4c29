"""The lessons: the driver's phases as runnable, checked experiments (lessons/)."""
