//! Bytes to text, strictly (docs/specs/batch-files.md, "Encoding"): UTF-8 with or without a
//! BOM, or GB18030/GBK, given by `--encoding` or detected. Bytes invalid in the
//! file's encoding stop the file with the line they are on: never a U+FFFD,
//! never a silent switch of encoding for the whole file. A file that is not
//! valid UTF-8 is read as GBK only when `chardetng` (Firefox's detector) says it
//! is GBK; UTF-8 damaged by a stray byte is reported, not reinterpreted.
//!
//! As the text streams through, the decoder feeds it to a [`Scan`]
//! (`lines.rs`), which knows the line of every row and how the quoting stands.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;

use encoding_rs::{DecoderResult, Encoding, GB18030, GBK, UTF_8};
use sha2::{Digest, Sha256};

use super::error::FileError;
use super::lines::Scan;

/// How much of a file `chardetng` sees: plenty for it to settle.
const DETECTION_SAMPLE: usize = 4 << 20;

/// The encoding a file is read with, and the length of its byte-order mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chosen {
    pub encoding: &'static Encoding,
    pub bom_len: usize,
}

impl Chosen {
    pub fn utf8() -> Chosen {
        Chosen {
            encoding: UTF_8,
            bom_len: 0,
        }
    }
}

/// The encoding `--encoding` names: `utf-8`, or `gbk` (read as GB18030, its superset).
pub fn named(label: &str) -> Result<&'static Encoding, FileError> {
    match label.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => Ok(UTF_8),
        "gbk" | "gb18030" | "gb2312" | "cp936" => Ok(GB18030),
        other => Err(FileError::UnknownEncoding(other.to_owned())),
    }
}

fn unreadable(path: &Path) -> impl Fn(io::Error) -> FileError + '_ {
    move |source| FileError::Unreadable {
        path: path.to_owned(),
        source,
    }
}

/// Opens a batch file, or says it cannot be read.
pub fn open_file(path: &Path) -> Result<File, FileError> {
    File::open(path).map_err(unreadable(path))
}

fn malformed(path: &Path, line: u64, message: String) -> FileError {
    FileError::Malformed {
        path: path.to_owned(),
        line,
        message,
    }
}

/// Chooses the encoding: `--encoding` when given, else a UTF-8 BOM, else UTF-8
/// if every byte is valid UTF-8, else GB18030 if the detector says GBK.
pub fn choose(label: Option<&str>, path: &Path) -> Result<Chosen, FileError> {
    if let (_, Some(chosen)) = choose_at_start(label, path)? {
        return Ok(chosen);
    }
    match first_line_not_utf8(path)? {
        None => Ok(Chosen::utf8()),
        Some(line) => choose_after_invalid(path, line),
    }
}

/// What `--encoding` and the file's first bytes settle: `None` when neither
/// does, and the file is UTF-8 unless a byte proves otherwise. Returns the
/// file opened and rewound, so that the same open reads it through.
pub fn choose_at_start(
    label: Option<&str>,
    path: &Path,
) -> Result<(File, Option<Chosen>), FileError> {
    let mut file = open_file(path)?;
    let mut start = [0u8; 3];
    let mut got = 0;
    while got < start.len() {
        match file.read(&mut start[got..]).map_err(unreadable(path))? {
            0 => break,
            n => got += n,
        }
    }
    let start = &start[..got];
    if start.starts_with(&[0xFF, 0xFE]) || start.starts_with(&[0xFE, 0xFF]) {
        return Err(malformed(
            path,
            1,
            "is UTF-16 text, which bulkrefund does not read: save the file as CSV (UTF-8)".into(),
        ));
    }
    let bom_len = if start == [0xEF, 0xBB, 0xBF] { 3 } else { 0 };
    file.seek(SeekFrom::Start(0)).map_err(unreadable(path))?;
    if let Some(label) = label {
        let chosen = Chosen {
            encoding: named(label)?,
            bom_len,
        };
        return Ok((file, Some(chosen)));
    }
    // With a BOM, the decoder stops at the first byte that is not UTF-8, with a hint.
    let chosen = (bom_len > 0).then_some(Chosen {
        encoding: UTF_8,
        bom_len,
    });
    Ok((file, chosen))
}

/// The encoding of a file whose first byte that is not UTF-8 is on `line`:
/// GB18030 if the detector says GBK and the file does not look like damaged UTF-8.
pub fn choose_after_invalid(path: &Path, line: u64) -> Result<Chosen, FileError> {
    let (utf8, sample) = utf8_evidence(path)?;
    if utf8.looks_damaged() {
        return Err(malformed(
            path,
            line,
            format!(
                "is not valid UTF-8, though the file is UTF-8 elsewhere ({} bad byte sequences \
                 among {} UTF-8 characters); fix the line, or pass --encoding gbk if the file is GBK",
                utf8.invalid, utf8.multibyte
            ),
        ));
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(&sample, true);
    let guess = detector.guess(None, false);
    if guess == GBK || guess == GB18030 {
        return Ok(Chosen {
            encoding: GB18030,
            bom_len: 0,
        });
    }
    Err(malformed(
        path,
        line,
        format!(
            "is not valid UTF-8, and the file does not look like GBK either (more like {}); \
             save it as UTF-8, or pass --encoding gbk if it is GBK",
            guess.name()
        ),
    ))
}

/// How UTF-8-like a file that is not valid UTF-8 is.
#[derive(Debug, Default)]
struct Utf8Evidence {
    /// Valid characters of two bytes or more.
    multibyte: u64,
    /// Byte sequences that are not UTF-8.
    invalid: u64,
}

impl Utf8Evidence {
    /// UTF-8 with a few damaged bytes, rather than another encoding: text in
    /// GBK read as UTF-8 is mostly invalid (under one GBK character in ten
    /// happens to form a valid UTF-8 sequence), while damaged UTF-8 is mostly valid.
    fn looks_damaged(&self) -> bool {
        self.multibyte >= 4 * self.invalid
    }

    fn count_valid(&mut self, text: &str) {
        self.multibyte += text.chars().filter(|c| !c.is_ascii()).count() as u64;
    }
}

/// Counts valid and invalid UTF-8 over the whole file, and keeps its start for the detector.
fn utf8_evidence(path: &Path) -> Result<(Utf8Evidence, Vec<u8>), FileError> {
    let mut file = File::open(path).map_err(unreadable(path))?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut sample = Vec::new();
    let mut evidence = Utf8Evidence::default();
    let mut carried = 0usize;
    loop {
        let read = file
            .read(&mut buffer[carried..])
            .map_err(unreadable(path))?;
        if sample.len() < DETECTION_SAMPLE {
            let take = read.min(DETECTION_SAMPLE - sample.len());
            sample.extend_from_slice(&buffer[carried..carried + take]);
        }
        if read == 0 {
            evidence.invalid += u64::from(carried > 0);
            return Ok((evidence, sample));
        }
        let filled = carried + read;
        let mut rest = &buffer[..filled];
        carried = loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    evidence.count_valid(text);
                    break 0;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    evidence.count_valid(std::str::from_utf8(valid).expect("checked valid"));
                    match e.error_len() {
                        Some(bad) => {
                            evidence.invalid += 1;
                            rest = &after[bad..];
                        }
                        // An incomplete character at the end of the chunk: carry it over.
                        None => break after.len(),
                    }
                }
            }
        };
        buffer.copy_within(filled - carried..filled, 0);
    }
}

/// The line of the first byte that is not UTF-8; `None` when the file is valid
/// UTF-8. (The common case pays only this fast pass.)
fn first_line_not_utf8(path: &Path) -> Result<Option<u64>, FileError> {
    let mut file = File::open(path).map_err(unreadable(path))?;
    let mut buffer = vec![0u8; 64 * 1024];
    let (mut carried, mut lines) = (0usize, 1u64);
    loop {
        let read = file
            .read(&mut buffer[carried..])
            .map_err(unreadable(path))?;
        let filled = carried + read;
        if read == 0 {
            // Bytes carried over to the end are a character cut off.
            return Ok((carried > 0).then_some(lines));
        }
        match std::str::from_utf8(&buffer[..filled]) {
            Ok(_) => {
                lines += count_newlines(&buffer[..filled]);
                carried = 0;
            }
            // An incomplete character at the end of the chunk: carry it over.
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                lines += count_newlines(&buffer[..valid]);
                buffer.copy_within(valid..filled, 0);
                carried = filled - valid;
            }
            Err(e) => return Ok(Some(lines + count_newlines(&buffer[..e.valid_up_to()]))),
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Bytes not valid in the file's encoding, on this line.
#[derive(Debug, thiserror::Error)]
#[error("has bytes that are not valid {encoding}{hint}")]
pub struct EncodingError {
    pub line: u64,
    encoding: &'static str,
    hint: &'static str,
}

/// A file read as UTF-8 because nothing said otherwise has a byte that is not
/// UTF-8, on this line: its encoding must be chosen again
/// ([`choose_after_invalid`]) and the file read from the start.
#[derive(Debug, thiserror::Error)]
#[error("has bytes that are not valid UTF-8")]
pub struct NotUtf8 {
    pub line: u64,
}

/// The file, decoded strictly into UTF-8 text, fed to a [`Scan`] on the way.
pub struct StrictDecoder {
    file: File,
    /// UTF-8 assumed, not chosen: a bad byte is [`NotUtf8`], not a file error.
    assumed: bool,
    /// The SHA-256 of every byte read, when asked for.
    hasher: Option<Sha256>,
    bom: Vec<u8>,
    decoder: encoding_rs::Decoder,
    encoding: &'static Encoding,
    had_bom: bool,
    input: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// The decoder has seen the end (it must not be called again).
    finished: bool,
    failed: Option<u64>,
    scan: Rc<RefCell<Scan>>,
}

impl StrictDecoder {
    /// Reads `file` from its start (where a BOM of `chosen.bom_len` bytes is skipped).
    pub fn new(
        mut file: File,
        path: &Path,
        chosen: Chosen,
        scan: Rc<RefCell<Scan>>,
    ) -> Result<StrictDecoder, FileError> {
        let mut bom = vec![0u8; chosen.bom_len];
        file.read_exact(&mut bom).map_err(unreadable(path))?;
        Ok(StrictDecoder {
            file,
            assumed: false,
            hasher: None,
            bom,
            decoder: chosen.encoding.new_decoder_without_bom_handling(),
            encoding: chosen.encoding,
            had_bom: chosen.bom_len > 0,
            input: vec![0u8; 256 * 1024],
            start: 0,
            end: 0,
            eof: false,
            finished: false,
            failed: None,
            scan,
        })
    }

    /// Reads as UTF-8 because nothing said otherwise (see [`NotUtf8`]).
    pub fn assuming_utf8(mut self) -> StrictDecoder {
        self.assumed = true;
        self
    }

    /// Hashes every byte of the file as it is read.
    pub fn hashing(mut self) -> StrictDecoder {
        let mut hasher = Sha256::new();
        hasher.update(&self.bom);
        self.hasher = Some(hasher);
        self
    }

    /// The file's SHA-256, once it has been read to the end.
    pub fn sha256(&mut self) -> Option<String> {
        if !self.finished {
            return None;
        }
        self.hasher
            .take()
            .map(|hasher| hex::encode(hasher.finalize()))
    }

    fn encoding_error(&self, line: u64) -> io::Error {
        if self.assumed {
            return io::Error::new(io::ErrorKind::InvalidData, NotUtf8 { line });
        }
        let hint = match (self.encoding == UTF_8, self.had_bom) {
            (true, true) => {
                " although the file starts with a UTF-8 byte-order mark; if it is GBK, pass --encoding gbk"
            }
            (true, false) => "; if the file is GBK, pass --encoding gbk",
            (false, _) => "; if the file is UTF-8, pass --encoding utf-8",
        };
        io::Error::new(
            io::ErrorKind::InvalidData,
            EncodingError {
                line,
                encoding: if self.encoding == UTF_8 {
                    "UTF-8"
                } else {
                    "GBK/GB18030"
                },
                hint,
            },
        )
    }
}

impl Read for StrictDecoder {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(line) = self.failed {
                return Err(self.encoding_error(line));
            }
            if self.finished {
                return Ok(0);
            }
            if self.start == self.end && !self.eof {
                self.end = self.file.read(&mut self.input)?;
                if let Some(hasher) = self.hasher.as_mut() {
                    hasher.update(&self.input[..self.end]);
                }
                self.start = 0;
                self.eof = self.end == 0;
            }
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.input[self.start..self.end],
                out,
                self.eof,
            );
            self.start += read;
            let mut scan = self.scan.borrow_mut();
            scan.feed(&out[..written]);
            if let Some(too_long) = &scan.too_long {
                // Stops the csv reader before it holds more of the row.
                return Err(io::Error::new(io::ErrorKind::InvalidData, too_long.clone()));
            }
            match result {
                DecoderResult::Malformed(_, _) => {
                    // The text before the bad bytes goes out first; then the error.
                    self.failed = Some(scan.line_now());
                    if written > 0 {
                        return Ok(written);
                    }
                }
                DecoderResult::OutputFull => return Ok(written),
                // With `last`, an empty input means the decoder is done for good.
                DecoderResult::InputEmpty if self.eof => {
                    scan.finish();
                    self.finished = true;
                    return Ok(written);
                }
                DecoderResult::InputEmpty if written > 0 => return Ok(written),
                DecoderResult::InputEmpty => {}
            }
        }
    }
}
