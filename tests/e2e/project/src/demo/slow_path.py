def where():
    return type(where).__name__
