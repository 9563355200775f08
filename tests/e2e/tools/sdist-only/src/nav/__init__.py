"""nav: a small command line with docopt."""
