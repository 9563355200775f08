VALUE = "initial"
