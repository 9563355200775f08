from . import alpha

VALUE = "beta after " + alpha.VALUE
