"""`make bench`: Veche beside its raw limit and a naive baseline."""
