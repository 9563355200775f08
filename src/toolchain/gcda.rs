//! The counts of a PGO training, as gcc's `.gcda` files hold them, reduced to one digest that
//! `toolchain.toml` records. Two trainings that counted the same give the same digest, whatever
//! the compilations that made the instrumented interpreter were called and where they ran.
//!
//! A `.gcda` file (gcc 12, `gcc/gcov-io.h`) is 32-bit little-endian words: the magic, the
//! version, the compilation's stamp (gcc takes it from the clock) and checksum, then records of a
//! tag, a length in bytes and the data, then a zero word. The stamp changes with every
//! compilation; a function record's first two words (its ident and its line-number checksum) hash
//! the path of the file the function was written in, which is in the build directory for a header
//! installed there (musl's `static inline` byte swaps), and the compilation's checksum is made
//! from those. None of them is a count, and the compilation that reads the profile matches its
//! own functions by them, so they are zeroed; everything else is hashed. (Indirect-call counters
//! hold their callees' idents: a function of such a header called through a pointer would make
//! two homes' digests differ while their code is the same. musl's byte swaps are called directly.)

use anyhow::{bail, Result};
use sha2::{Digest, Sha256};

/// `GCOV_TAG_FUNCTION`.
const FUNCTION: u32 = 0x0100_0000;

/// The sha256 of the counts in `files` (`(file name, bytes)`, in any order).
pub fn counts_digest(files: &[(String, Vec<u8>)]) -> Result<String> {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort();
    let mut hash = Sha256::new();
    for (name, bytes) in sorted {
        let counts = without_names(bytes).map_err(|e| anyhow::anyhow!("profile file {name}: {e}"))?;
        crate::fsutil::framed(&mut hash, name.as_bytes());
        crate::fsutil::framed(&mut hash, &counts);
    }
    Ok(hex::encode(hash.finalize()))
}

/// `bytes` with the compilation's stamp and checksum and the functions' idents and line-number
/// checksums zeroed.
fn without_names(bytes: &[u8]) -> Result<Vec<u8>> {
    let word = |at: usize| -> Option<u32> { Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?)) };
    if bytes.get(..4) != Some(b"adcg".as_slice()) || bytes.len() < 16 {
        bail!("not a .gcda file of this machine's byte order");
    }
    // The version is gcc's as four characters, 12.2 as "B22*": before 12, lengths were counted in
    // words and the header had no checksum.
    let version = bytes[4..8].iter().rev().map(|&b| b as char).collect::<String>();
    let mut digits = version.chars();
    let major = match (digits.next(), digits.next().and_then(|d| d.to_digit(10))) {
        (Some(tens @ 'A'..='Z'), Some(units)) => (tens as u32 - 'A' as u32) * 10 + units,
        _ => bail!("an unknown version {version:?}"),
    };
    if major < 12 {
        bail!("written by gcc {major}, whose format (before gcc 12) is not read");
    }
    let mut out = bytes.to_vec();
    out[8..16].fill(0);
    let mut at = 16;
    loop {
        // The records end at a zero word (gcc reads no further: what follows is not the profile).
        match word(at) {
            Some(0) => return Ok(out[..at].to_vec()),
            None if at == bytes.len() => bail!("the end (a zero word) is missing"),
            _ => {}
        }
        let (Some(tag), Some(length)) = (word(at), word(at + 4)) else { bail!("a record is cut at byte {at}") };
        // A negative length stands for that many bytes of counters that are all zero, not written.
        let data = if (length as i32) < 0 { 0 } else { length as usize };
        let end = at + 8 + data;
        if end > bytes.len() {
            bail!("a record of {data} bytes at byte {at} runs past the end ({} bytes)", bytes.len());
        }
        if tag == FUNCTION && data >= 8 {
            out[at + 8..at + 16].fill(0);
        }
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file: a summary, one function (`ident`, line checksum `line`, cfg checksum 9) and its
    /// arcs (`count`, 0), all-zero counters written as a negative length, and the end.
    fn gcda(stamp: u32, ident: u32, line: u32, count: u64) -> Vec<u8> {
        let words: Vec<u32> = vec![
            0x6763_6461,
            0x4232_322a,
            stamp,
            ident ^ line,
            0xa100_0000,
            8,
            1,
            1000,
            FUNCTION,
            12,
            ident,
            line,
            9,
            0x01a1_0000,
            16,
            count as u32,
            (count >> 32) as u32,
            0,
            0,
            0x01a3_0000,
            (-16i32) as u32,
            0,
        ];
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    fn digest(files: &[(&str, Vec<u8>)]) -> Result<String> {
        counts_digest(&files.iter().map(|(n, b)| (n.to_string(), b.clone())).collect::<Vec<_>>())
    }

    #[test]
    fn the_digest_is_the_counts_not_the_names_of_compilations_or_functions_nor_the_order_found() {
        let one = digest(&[("a.gcda", gcda(1, 2, 3, 5)), ("b.gcda", gcda(1, 2, 3, 6))]).unwrap();
        assert_eq!(one.len(), 64);
        // Another compilation (stamp), another build directory (ident, line checksum), found in
        // another order: the same counts.
        assert_eq!(one, digest(&[("b.gcda", gcda(8, 20, 30, 6)), ("a.gcda", gcda(9, 21, 31, 5))]).unwrap());
        // Another count, another function's shape, the counts in other files, a file fewer.
        assert_ne!(one, digest(&[("a.gcda", gcda(1, 2, 3, 5)), ("b.gcda", gcda(1, 2, 3, 7))]).unwrap());
        assert_ne!(one, digest(&[("a.gcda", gcda(1, 2, 3, 6)), ("b.gcda", gcda(1, 2, 3, 5))]).unwrap());
        assert_ne!(one, digest(&[("a.gcda", gcda(1, 2, 3, 5))]).unwrap());
        let mut other_shape = gcda(1, 2, 3, 6);
        other_shape[48] = 10; // the cfg checksum
        assert_ne!(one, digest(&[("a.gcda", gcda(1, 2, 3, 5)), ("b.gcda", other_shape)]).unwrap());
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let whole = gcda(1, 2, 3, 5);
        for cut in [3, 15, 20, 50, whole.len() - 4] {
            let e = digest(&[("a.gcda", whole[..cut].to_vec())]).unwrap_err().to_string();
            assert!(e.contains("a.gcda"), "{e}");
        }
        let mut long = whole.clone();
        long[20..24].copy_from_slice(&0x7fff_fff0u32.to_le_bytes()); // the summary's length
        assert!(digest(&[("a.gcda", long)]).unwrap_err().to_string().contains("runs past the end"));
        assert!(digest(&[("a.gcda", b"gcda".repeat(8))]).unwrap_err().to_string().contains("byte order"));
        let mut gcc11 = whole.clone();
        gcc11[4..8].copy_from_slice(b"*11B");
        assert!(digest(&[("a.gcda", gcc11)]).unwrap_err().to_string().contains("gcc 11"));
        // What follows the end is not read (gcc rewrites a file in place, without truncating it).
        let mut longer = whole.clone();
        longer.extend_from_slice(&[1, 2, 3, 4, 5]);
        assert_eq!(digest(&[("a.gcda", longer)]).unwrap(), digest(&[("a.gcda", whole.clone())]).unwrap());
    }
}
