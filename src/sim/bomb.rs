//! Decompression bombs for the bill delivery fault `zip_bomb` (our
//! convention): a bill whose body is small (zeros deflate about 1000:1) but
//! inflates past 600 MiB, as a gzip (WeChat Pay) or as the detail entry of
//! a zip (Alipay). The deflate stream is made without compressing 600 MiB:
//! a fresh encoder's sync-flushed blocks of one MiB of zeros reference
//! nothing before them, so the same bytes repeated are a valid stream. Each
//! simulator makes its bombs once, when first asked, and keeps them.

use std::io::Write as _;

/// One MiB: the zeros one repeated block inflates to.
const CHUNK: usize = 1 << 20;
/// How many chunks a bomb holds: past the 600 MiB that clients must refuse.
pub const CHUNKS: usize = 601;

/// A raw deflate stream, and what it inflates to: its size, CRC-32 and SHA-1.
pub struct Bomb {
    deflate: Vec<u8>,
    pub size: u64,
    crc: u32,
    /// Lower-case hex, as WeChat's `hash_value`.
    pub sha1: String,
}

/// `data` deflated by a fresh encoder and sync-flushed: whole blocks, byte
/// aligned, not final, referencing nothing before them.
fn deflate_alone(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("writing to memory");
    // A flush is a sync flush; the final block `finish` would add is not wanted.
    encoder.flush().expect("writing to memory");
    std::mem::take(encoder.get_mut())
}

/// The empty final block (fixed Huffman, end of block only).
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

impl Bomb {
    /// `prefix` then `chunks` MiB of zeros.
    pub fn new(prefix: &[u8], chunks: usize) -> Bomb {
        use sha1::Digest as _;
        let zeros = vec![0u8; CHUNK];
        let block = deflate_alone(&zeros);
        let mut deflate = deflate_alone(prefix);
        deflate.reserve(block.len() * chunks + FINAL_BLOCK.len());
        let mut crc = flate2::Crc::new();
        let mut sha1 = sha1::Sha1::new();
        crc.update(prefix);
        sha1.update(prefix);
        for _ in 0..chunks {
            deflate.extend_from_slice(&block);
            crc.update(&zeros);
            sha1.update(&zeros);
        }
        deflate.extend_from_slice(&FINAL_BLOCK);
        Bomb {
            deflate,
            size: prefix.len() as u64 + (CHUNK * chunks) as u64,
            crc: crc.sum(),
            sha1: hex::encode(sha1.finalize()),
        }
    }

    /// The bomb as a gzip file (no name, mtime 0).
    pub fn gzip(&self) -> Vec<u8> {
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        out.extend_from_slice(&self.deflate);
        out.extend_from_slice(&self.crc.to_le_bytes());
        // ISIZE is the size modulo 2^32.
        out.extend_from_slice(&(self.size as u32).to_le_bytes());
        out
    }

    /// A zip of one deflated entry, the bomb, named `name` (raw bytes: GBK
    /// for Alipay, without the UTF-8 flag), modified at `at`.
    pub fn zip(&self, name: &[u8], at: jiff::civil::DateTime) -> Vec<u8> {
        let time =
            ((at.hour() as u16) << 11) | ((at.minute() as u16) << 5) | ((at.second() as u16) / 2);
        let year = u16::try_from(at.year())
            .unwrap_or(1980)
            .saturating_sub(1980);
        let date = (year << 9) | ((at.month() as u16) << 5) | (at.day() as u16);
        let sizes = |out: &mut Vec<u8>| {
            out.extend_from_slice(&self.crc.to_le_bytes());
            out.extend_from_slice(&(self.deflate.len() as u32).to_le_bytes());
            out.extend_from_slice(&(self.size as u32).to_le_bytes());
        };
        let u16le = |out: &mut Vec<u8>, v: u16| out.extend_from_slice(&v.to_le_bytes());
        // Local header: version 2.0, no flags, deflated.
        let mut out = 0x0403_4b50u32.to_le_bytes().to_vec();
        for v in [20, 0, 8, time, date] {
            u16le(&mut out, v);
        }
        sizes(&mut out);
        u16le(&mut out, name.len() as u16);
        u16le(&mut out, 0);
        out.extend_from_slice(name);
        out.extend_from_slice(&self.deflate);
        // Central directory: one entry, its local header at offset 0.
        let directory_at = out.len() as u32;
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for v in [20, 20, 0, 8, time, date] {
            u16le(&mut out, v);
        }
        sizes(&mut out);
        for v in [name.len() as u16, 0, 0, 0, 0] {
            u16le(&mut out, v);
        }
        out.extend_from_slice(&[0; 8]); // external attributes, local header offset
        out.extend_from_slice(name);
        let directory_len = out.len() as u32 - directory_at;
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        for v in [0, 0, 1, 1] {
            u16le(&mut out, v);
        }
        out.extend_from_slice(&directory_len.to_le_bytes());
        out.extend_from_slice(&directory_at.to_le_bytes());
        u16le(&mut out, 0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn a_small_bomb_inflates_to_its_prefix_and_zeros_as_gzip_and_zip() {
        let bomb = Bomb::new("#业务明细列表\r\n".as_bytes(), 3);
        let mut expected = "#业务明细列表\r\n".as_bytes().to_vec();
        expected.resize(expected.len() + 3 * CHUNK, 0);
        assert_eq!(bomb.size, expected.len() as u64);
        assert!(bomb.deflate.len() < 4 * 1024, "{}", bomb.deflate.len());
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(bomb.gzip().as_slice())
            .read_to_end(&mut inflated)
            .unwrap();
        assert!(inflated == expected);
        {
            use sha1::Digest as _;
            assert_eq!(bomb.sha1, hex::encode(sha1::Sha1::digest(&expected)));
        }
        let at = jiff::civil::date(2026, 12, 1).at(6, 27, 10, 0);
        let zip = bomb.zip(b"detail.csv", at);
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(
            (entry.name_raw(), entry.size()),
            (&b"detail.csv"[..], bomb.size)
        );
        let mut unzipped = Vec::new();
        entry.read_to_end(&mut unzipped).unwrap();
        assert!(unzipped == expected);
    }
}
