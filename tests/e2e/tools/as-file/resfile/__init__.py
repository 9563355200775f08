import importlib.resources
import os


def main():
    with importlib.resources.as_file(importlib.resources.files("resfile") / "words.txt") as path:
        print(path.read_text().strip(), os.path.isfile(path))
        kept = path
    print("copy removed:", not os.path.exists(kept))
