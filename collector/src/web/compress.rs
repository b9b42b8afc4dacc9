//! A response body rendered once and compressed once, served in the encoding the client
//! accepts: the site config (`GET /v1/sites/{site}/config`), which every page view of every
//! site asks for, is mostly the texts of all its languages and shrinks to about a third.
//! Compressed when the site table is built (start, SIGHUP), never per request.

use std::io::Write;

use actix_web::web::Bytes;

use crate::web::negotiate::{Encoding, pick_encoding};

/// One body with its brotli and gzip variants.
#[derive(Debug, Clone)]
pub struct Compressed {
    identity: Bytes,
    brotli: Bytes,
    gzip: Bytes,
}

impl Compressed {
    /// Compresses `body` (brotli at quality 11, as the widget's files; gzip at its best).
    pub fn new(body: Vec<u8>) -> Compressed {
        let brotli = brotli(&body);
        let gzip = gzip(&body);
        Compressed {
            identity: body.into(),
            brotli: brotli.into(),
            gzip: gzip.into(),
        }
    }

    /// The body as sent to a client whose `Accept-Encoding` is `accept`, and the
    /// `Content-Encoding` it is sent with (`None`: as is).
    pub fn pick(&self, accept: Option<&str>) -> (Bytes, Option<&'static str>) {
        match pick_encoding(accept, true, true) {
            Encoding::Brotli => (self.brotli.clone(), Some("br")),
            Encoding::Gzip => (self.gzip.clone(), Some("gzip")),
            Encoding::Identity => (self.identity.clone(), None),
        }
    }

    /// The body as rendered.
    pub fn identity(&self) -> &Bytes {
        &self.identity
    }
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    let mut out = Vec::new();
    // Writing into a Vec from a slice cannot fail.
    let _ = brotli::BrotliCompress(&mut &body[..], &mut out, &params);
    out
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn each_encoding_gives_back_the_body() {
        let body = "{\"texts\":\"Дербес деректерді жинауға және өңдеуге келісемін\"}".repeat(20);
        let c = Compressed::new(body.clone().into_bytes());
        let (br, encoding) = c.pick(Some("gzip, deflate, br, zstd"));
        assert_eq!(encoding, Some("br"));
        let mut back = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut back).expect("brotli");
        assert_eq!(back, body.as_bytes());
        assert!(br.len() < body.len() / 4, "{} of {}", br.len(), body.len());

        let (gz, encoding) = c.pick(Some("gzip"));
        assert_eq!(encoding, Some("gzip"));
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut back)
            .expect("gzip");
        assert_eq!(back, body);

        for accept in [None, Some("identity"), Some("br;q=0, gzip;q=0")] {
            let (plain, encoding) = c.pick(accept);
            assert_eq!(
                (&plain[..], encoding),
                (body.as_bytes(), None),
                "{accept:?}"
            );
        }
        assert_eq!(&c.identity()[..], body.as_bytes());
    }
}
