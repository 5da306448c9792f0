//! What every bill reader and fetcher shares (`bill.rs` holds the seam and
//! the caps): a `File` error naming its line, strict decoding (UTF-8, GBK),
//! exact signed yuan, Beijing wall times, columns found by header text, and
//! the download of a bill from a URL a signed answer gave (bounded, never
//! redirected, only to the gateway's hosts or this machine).

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use encoding_rs::Encoding;
use jiff::Timestamp;

use super::bill::{too_large, BillError, BillRow};
use super::times;
use crate::money::AmountError;

/// How long a bill download may take: a read may wait [`READ_TIMEOUT`]
/// for its next byte, the whole transfer [`TOTAL_TIMEOUT`]. A refund call's
/// timeout (seconds) would cut off a 64 MiB zip or a 512 MiB CSV arriving
/// steadily; a stalled transfer still ends within a read timeout.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const TOTAL_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The client bill downloads go through: the profile's connect timeout (as
/// the refund client has it), `read` without a byte, `total` in all; never
/// redirected, no proxy, like [`super::http::client`].
pub(crate) fn download_client(
    profile_timeout: Duration,
    read: Duration,
    total: Duration,
) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(profile_timeout.min(Duration::from_secs(5)))
        .read_timeout(read)
        .timeout(total)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("a client with static settings always builds")
}

/// A bill's download: its status and body (whatever the status, a redirect
/// aside: never followed), at most `cap` bytes, as declared or as it streams.
/// A transfer cut off is a fetch error: nothing of it is kept.
pub(crate) async fn download(
    request: reqwest::RequestBuilder,
    cap: u64,
) -> Result<(u16, Vec<u8>), BillError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| BillError::Fetch(format!("the download failed: {}", chain(e))))?;
    let status = response.status().as_u16();
    if (300..400).contains(&status) {
        return Err(BillError::Refused(format!(
            "the download answered HTTP {status}, a redirect: not followed"
        )));
    }
    if response.content_length().is_some_and(|length| length > cap) {
        return Err(too_large("the download", cap));
    }
    // Reserved from the declared length (within the cap): no doubling copy.
    let declared = response.content_length().unwrap_or(0).min(cap);
    let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() as u64 + chunk.len() as u64 > cap => {
                return Err(too_large("the download", cap))
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok((status, body)),
            Err(e) => {
                return Err(BillError::Fetch(format!(
                    "the download was cut off: {}",
                    chain(e)
                )))
            }
        }
    }
}

/// An error and its causes on one line, without the URL: a download URL's
/// token lets anyone fetch the bill while it lives.
fn chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Why an HTTP attempt of `http::send` left nothing to read.
pub(crate) fn transport_failure(attempt: super::Attempt) -> BillError {
    if let Some(status @ 300..=399) = attempt.http_status {
        return BillError::Fetch(format!(
            "the gateway answered HTTP {status}, a redirect: not followed"
        ));
    }
    let why = match attempt.outcome {
        super::Outcome::Unknown { why } | super::Outcome::Retry { why, .. } => why,
        other => format!("{other:?}"),
    };
    BillError::Fetch(why)
}

/// Whether a download URL from a signed answer may be fetched: https on one
/// of `hosts`, or plain http to this machine when the gateway itself is
/// reached there (the simulator).
pub(crate) fn download_allowed(
    url: &url::Url,
    base_url: &url::Url,
    hosts: &dyn Fn(&str) -> bool,
) -> bool {
    let host = url.host_str().unwrap_or("");
    match url.scheme() {
        "https" => hosts(host),
        "http" => super::http::is_loopback(url) && super::http::is_loopback(base_url),
        _ => false,
    }
}

/// A text from an answer as a message quotes it: at most 64 characters.
pub(crate) fn quoted(text: &str) -> String {
    format!("{:?}", text.chars().take(64).collect::<String>())
}

/// A `File` error about line `line`.
pub(crate) fn at_line(line: u64, message: impl std::fmt::Display) -> BillError {
    BillError::File(format!("line {line}: {message}"))
}

/// Bytes decoded strictly with `encoding`: a byte sequence not valid in it
/// stops the file, naming its line. Never a U+FFFD. UTF-8 is borrowed, not
/// copied: a large bill is held once.
pub(crate) fn decode_strict<'a>(
    bytes: &'a [u8],
    encoding: &'static Encoding,
    what: &str,
) -> Result<Cow<'a, str>, BillError> {
    if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok(text);
    }
    // Where decoding stops: decoded into a small buffer, chunk by chunk,
    // never into a second copy of the file.
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut buffer = String::with_capacity(64 << 10);
    let mut read = 0;
    loop {
        buffer.clear();
        let (result, used) =
            decoder.decode_to_string_without_replacement(&bytes[read..], &mut buffer, true);
        read += used;
        match result {
            encoding_rs::DecoderResult::OutputFull => continue,
            // A malformed sequence ends at `read`: its line is where it began.
            _ => break,
        }
    }
    let line = 1 + bytes[..read.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64;
    Err(at_line(
        line,
        format!("{what} has bytes that are not valid {}", encoding.name()),
    ))
}

/// A portal or hand-made file's text: UTF-8 (a BOM dropped), else GBK
/// (GB18030) when the file is not UTF-8 at all. UTF-8 damaged by a few bytes
/// is reported at its line, not read as GBK (as batch files are). UTF-8 is
/// borrowed, and the bytes are counted without a copy.
pub(crate) fn decode_utf8_or_gbk<'a>(
    bytes: &'a [u8],
    what: &str,
) -> Result<Cow<'a, str>, BillError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return decode_strict(rest, encoding_rs::UTF_8, what);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(text));
    }
    let (mut valid_multibyte, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        valid_multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    // GBK read as UTF-8 is mostly invalid; damaged UTF-8 mostly valid.
    if valid_multibyte >= 4 * invalid {
        return decode_strict(bytes, encoding_rs::UTF_8, what);
    }
    decode_strict(bytes, encoding_rs::GB18030, what)
}

/// Each refund id listed once: the same refund on two lines of one bill
/// would be reconciled twice. `name` is the id's column, for the message.
pub(crate) fn listed_once(rows: &[BillRow], name: &str) -> Result<(), BillError> {
    let mut seen: HashMap<&str, u64> = HashMap::with_capacity(rows.len());
    for row in rows {
        if let Some(first) = seen.insert(&row.refund_id, row.line) {
            return Err(at_line(
                row.line,
                format!(
                    "{name} {} is also line {first}'s: a refund is listed once",
                    quoted(&row.refund_id)
                ),
            ));
        }
    }
    Ok(())
}

/// Signed yuan (`"25.99"`, `"-25.99"`, `"0.00"`) as signed fen, exactly: at
/// most two decimals, never a float. Unlike a refund's amount, a bill's sum
/// has no upper limit but i64's (a day's total may pass any one refund's cap).
pub(crate) fn signed_fen(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, decimals) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !all_digits(whole)
        || !all_digits(decimals)
        || (digits.contains('.') && decimals.is_empty())
    {
        return Err(format!("{} {}", quoted(text), AmountError::NotDecimal));
    }
    if decimals.len() > 2 {
        return Err(format!("{} {}", quoted(text), AmountError::TooManyDecimals));
    }
    let value = |s: &str| {
        s.bytes().try_fold(0i64, |acc, d| {
            acc.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        })
    };
    let cents = value(decimals).unwrap_or(0) * if decimals.len() == 1 { 10 } else { 1 };
    let fen = value(whole)
        .and_then(|yuan| yuan.checked_mul(100))
        .and_then(|fen| fen.checked_add(cents))
        .ok_or_else(|| format!("{} is too large an amount", quoted(text)))?;
    Ok(if text.starts_with('-') { -fen } else { fen })
}

/// Beijing wall time `text` in `format` ([`times::DASHED`],
/// [`times::COMPACT`]) as an instant, as the gateway's answers are read
/// ([`times::beijing`]); an error names the text and the format.
pub(crate) fn beijing_time(text: &str, format: &str) -> Result<Timestamp, String> {
    times::beijing(text, format)
        .ok_or_else(|| format!("{} is not a time as {format}", quoted(text)))
}

/// At most this many header cells are listed in a message, each quoted and
/// cut to 64 characters: a header is the file's, echoed to a terminal.
const LISTED_COLUMNS: usize = 40;

/// A header cell as compared: trimmed, full-width parentheses made half-width.
fn column_name(cell: &str) -> String {
    cell.trim().replace('（', "(").replace('）', ")")
}

/// Where each wanted column is in a header, found by its text (full- and
/// half-width parentheses alike). A wanted name found twice is an error:
/// one field is never read from two columns.
pub(crate) struct Columns {
    what: String,
    found: Vec<String>,
}

impl Columns {
    /// `what` names the header in messages (`the WeChat Pay bill's header (line 1)`).
    pub(crate) fn new(header: &[impl AsRef<str>], what: impl Into<String>) -> Columns {
        Columns {
            what: what.into(),
            found: header.iter().map(|c| column_name(c.as_ref())).collect(),
        }
    }

    /// The first of `names` the header has; an error when the header has it twice.
    pub(crate) fn find(&self, names: &[&str]) -> Result<Option<usize>, BillError> {
        for name in names {
            let name = column_name(name);
            let mut at = self.found.iter().enumerate().filter(|(_, c)| **c == name);
            if let Some((first, _)) = at.next() {
                if let Some((second, _)) = at.next() {
                    return Err(BillError::File(format!(
                        "{} has the column {} twice (columns {} and {}): which one holds cannot be told",
                        self.what,
                        quoted(&name),
                        first + 1,
                        second + 1
                    )));
                }
                return Ok(Some(first));
            }
        }
        Ok(None)
    }

    /// The column, or an error naming it and the columns the header has.
    pub(crate) fn require(&self, names: &[&str]) -> Result<usize, BillError> {
        self.find(names)?.ok_or_else(|| self.missing(names))
    }

    pub(crate) fn missing(&self, names: &[&str]) -> BillError {
        BillError::File(format!(
            "{} has no column {}; the columns found are: {}",
            self.what,
            names.join(" or "),
            listed(&self.found)
        ))
    }

    pub(crate) fn what(&self) -> &str {
        &self.what
    }

    pub(crate) fn len(&self) -> usize {
        self.found.len()
    }
}

/// Cells from a file as a message lists them: each quoted (control
/// characters escaped) and cut, at most [`LISTED_COLUMNS`] of them.
fn listed(cells: &[String]) -> String {
    let mut text: Vec<String> = cells
        .iter()
        .take(LISTED_COLUMNS)
        .map(|c| quoted(c))
        .collect();
    if cells.len() > LISTED_COLUMNS {
        text.push(format!("and {} more", cells.len() - LISTED_COLUMNS));
    }
    text.join(", ")
}

/// A raw value from a file kept to be shown (a status the contract does not
/// name): control characters escaped, at most 64 characters.
pub(crate) fn shown(text: &str) -> String {
    let escaped: String = text.chars().flat_map(char::escape_debug).collect();
    let mut cut: String = escaped.chars().take(64).collect();
    if escaped.chars().nth(64).is_some() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_yuan_is_exact() {
        assert_eq!(signed_fen("25.99"), Ok(2599));
        assert_eq!(signed_fen("-25.99"), Ok(-2599));
        assert_eq!(signed_fen("0.00"), Ok(0));
        assert_eq!(signed_fen("-0.1"), Ok(-10));
        assert!(signed_fen("1.001")
            .unwrap_err()
            .contains("more than 2 decimals"));
        assert!(signed_fen("1e2").is_err());
        assert!(signed_fen("--1").is_err());
        assert!(signed_fen("").is_err());
    }

    #[test]
    fn beijing_wall_times_are_utc_plus_8() {
        assert_eq!(
            beijing_time("2026-11-22 23:59:58", "%Y-%m-%d %H:%M:%S"),
            Ok("2026-11-22T15:59:58Z".parse().unwrap())
        );
        assert_eq!(
            beijing_time("20261123000001", "%Y%m%d%H%M%S"),
            Ok("2026-11-22T16:00:01Z".parse().unwrap())
        );
        assert!(beijing_time("2026-11-22", "%Y-%m-%d %H:%M:%S").is_err());
    }

    #[test]
    fn a_download_goes_only_to_the_gateways_hosts_or_this_machine() {
        let url = |text: &str| url::Url::parse(text).unwrap();
        let wechat = |host: &str| host == "api.mch.weixin.qq.com";
        let allowed =
            |download: &str, base: &str| download_allowed(&url(download), &url(base), &wechat);
        let real = "https://api.mch.weixin.qq.com";
        assert!(allowed(
            "https://api.mch.weixin.qq.com/v3/billdownload/file?token=x",
            real
        ));
        assert!(!allowed(
            "https://evil.example/v3/billdownload/file?token=x",
            real
        ));
        assert!(!allowed(
            "http://api.mch.weixin.qq.com/v3/billdownload/file",
            real
        ));
        assert!(
            !allowed("http://127.0.0.1:8900/file", real),
            "plain http from a real gateway"
        );
        assert!(allowed(
            "http://127.0.0.1:8900/file",
            "http://127.0.0.1:8900"
        ));
        assert!(!allowed("http://10.0.0.1/file", "http://127.0.0.1:8900"));
        assert!(!allowed("ftp://api.mch.weixin.qq.com/file", real));
    }

    /// A server on 127.0.0.1 answering one request with `body` of
    /// `length` bytes, `gap` between bytes; then holding the socket open.
    async fn dribbling(body: &'static [u8], length: usize, gap: Duration) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..read]);
            }
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n");
            socket.write_all(head.as_bytes()).await.unwrap();
            for byte in body {
                tokio::time::sleep(gap).await;
                socket.write_all(&[*byte]).await.unwrap();
                socket.flush().await.unwrap();
            }
            std::future::pending::<()>().await;
        });
        format!("http://{address}/bill")
    }

    /// Six bytes over 600 ms: past a 200 ms refund timeout, within the
    /// download client's, whose per-read timeout still stops a stall.
    #[tokio::test]
    async fn a_download_outlives_the_refund_timeout_but_not_a_stall() {
        let short = Duration::from_millis(200);
        let gap = Duration::from_millis(100);
        let url = dribbling(b"abcdef", 6, gap).await;
        let refund_client = super::super::http::client(short);
        assert!(matches!(
            download(refund_client.get(&url), 1 << 20).await,
            Err(BillError::Fetch(_))
        ));
        let url = dribbling(b"abcdef", 6, gap).await;
        let client = download_client(short, Duration::from_secs(3), Duration::from_secs(60));
        let (status, body) = download(client.get(&url), 1 << 20).await.unwrap();
        assert_eq!((status, body.as_slice()), (200, b"abcdef".as_slice()));
        // Two bytes of six, then nothing: cut off after a read timeout.
        let url = dribbling(b"ab", 6, Duration::ZERO).await;
        let client = download_client(short, short, Duration::from_secs(60));
        let Err(BillError::Fetch(why)) = download(client.get(&url), 1 << 20).await else {
            panic!("a stalled download was not cut off");
        };
        assert!(why.starts_with("the download was cut off: "), "{why}");
    }

    #[test]
    fn utf8_is_read_borrowed_not_copied() {
        let bytes = "merchant_id,状态\n".as_bytes();
        let text = decode_utf8_or_gbk(bytes, "the file").unwrap();
        assert!(matches!(text, Cow::Borrowed(_)));
        assert_eq!(text.as_ptr(), bytes.as_ptr());
        let text = decode_strict(bytes, encoding_rs::UTF_8, "the file").unwrap();
        assert!(matches!(text, Cow::Borrowed(_)));
        // Damaged UTF-8 (valid multibyte text, one bad byte) names its line;
        // GBK is read as GBK.
        let mut damaged = "状态,状态\n状态,状态\n状态,状态\n".as_bytes().to_vec();
        damaged[14 + 12] = 0xff;
        assert_eq!(
            decode_utf8_or_gbk(&damaged, "the file")
                .unwrap_err()
                .to_string(),
            "line 2: the file has bytes that are not valid UTF-8"
        );
        let gbk = encoding_rs::GBK.encode("测试商品,退款\n").0.into_owned();
        assert!(std::str::from_utf8(&gbk).is_err());
        assert_eq!(
            decode_utf8_or_gbk(&gbk, "the file").unwrap(),
            "测试商品,退款\n"
        );
    }

    proptest::proptest! {
        /// Any amount written as a bill writes it reads back to the same fen.
        #[test]
        fn signed_yuan_round_trips(fen in -999_999_999_999_999i64..=999_999_999_999_999) {
            let abs = fen.unsigned_abs();
            let sign = if fen < 0 { "-" } else { "" };
            let text = format!("{sign}{}.{:02}", abs / 100, abs % 100);
            proptest::prop_assert_eq!(signed_fen(&text), Ok(fen));
            let three = format!("{text}0");
            proptest::prop_assert!(signed_fen(&three).is_err());
        }
    }
}
