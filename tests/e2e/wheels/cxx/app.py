import cxxprobe
print(cxxprobe.probe(0))
print(cxxprobe.probe(7))
