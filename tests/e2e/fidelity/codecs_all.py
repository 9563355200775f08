"""Every codec python knows by name (encodings.aliases), looked up and used as python does."""
import codecs
import encodings.aliases

SAMPLE = "Grüße, naïve café; ASCII text 123"
names = sorted(set(encodings.aliases.aliases.values()) | set(encodings.aliases.aliases))
ok, failed = 0, []
for name in names:
    try:
        info = codecs.lookup(name)
    except LookupError as e:
        failed.append(f"{name}: {e}")
        continue
    if info._is_text_encoding:
        for text in (SAMPLE, "plain ascii 123"):
            try:
                data = text.encode(name)
            except UnicodeError:
                continue
            assert data.decode(name) == text, name
            break
    else:  # bytes to bytes (base64, zlib, ...), or str to str (rot13)
        sample = "some text 123" if "rot" in name else b"some bytes 123"
        assert codecs.decode(codecs.encode(sample, name), name) == sample, name
    ok += 1
print(len(names), "names,", ok, "work")
print("failed:", failed)
print(b"caf\xe9 \x80".decode("cp1252"), "x".encode("cp437"), "日本".encode("shift_jis"), "한국".encode("euc_kr"))
print("привет".encode("koi8_r"), "é".encode("mac_roman"), "bücher".encode("punycode"), "bücher.de".encode("idna"))
