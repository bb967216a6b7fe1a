//! Recognises audio by its first bytes, so that an upload that is plainly not
//! audio (a PDF, an image, text) is refused with 415 before it is stored. Only a
//! first look: a file that passes can still fail to decode (and then fails its
//! analysis with the decoder's reason).

/// Bytes needed for a verdict.
pub const SNIFF_LEN: usize = 12;

/// The container or stream format `head` (the first bytes of a file) starts
/// like, among those the decoder reads; `None` for anything else.
pub fn audio_format(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, magic: &[u8]| head.get(i..i + magic.len()) == Some(magic);
    if at(0, b"RIFF") && at(8, b"WAVE") {
        return Some("wav");
    }
    if at(0, b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")) {
        return Some("aiff");
    }
    if at(0, b"fLaC") {
        return Some("flac");
    }
    if at(0, b"OggS") {
        return Some("ogg");
    }
    if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some("webm/matroska");
    }
    if at(4, b"ftyp") {
        return Some("mp4/m4a");
    }
    if at(0, b"caff") {
        return Some("caf");
    }
    if at(0, b"ID3") {
        return Some("mp3");
    }
    // An MPEG audio frame (MP3) or ADTS (AAC) header: 11 set sync bits.
    if head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 {
        return Some("mpeg/adts");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_supported_formats_and_nothing_else() {
        let cases: [(&[u8], Option<&str>); 12] = [
            (b"RIFF\x24\0\0\0WAVEfmt ", Some("wav")),
            (b"FORM\0\0\0\x20AIFFCOMM", Some("aiff")),
            (b"fLaC\0\0\0\x22\x10\0\x10\0", Some("flac")),
            (b"OggS\0\x02\0\0\0\0\0\0", Some("ogg")),
            (&[0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 1, 0, 0, 0], Some("webm/matroska")),
            (b"\0\0\0\x20ftypM4A ", Some("mp4/m4a")),
            (b"ID3\x04\0\0\0\0\0\x23TSS", Some("mp3")),
            (&[0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0, 0, 0, 0, 0], Some("mpeg/adts")),
            (b"%PDF-1.7\n%\xe2\xe3", None),
            (b"\x89PNG\r\n\x1a\n\0\0\0\x0d", None),
            (b"RIFF\x24\0\0\0AVI LIST", None),
            (b"hello", None),
        ];
        for (head, want) in cases {
            assert_eq!(audio_format(head), want, "{head:?}");
        }
    }
}
