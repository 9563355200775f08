VALUE = "loaded from its file"
