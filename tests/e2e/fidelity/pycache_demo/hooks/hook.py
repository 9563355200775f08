# In a directory that is no package: no import reaches it; the app loads it by its file.
VALUE = "a hook"
