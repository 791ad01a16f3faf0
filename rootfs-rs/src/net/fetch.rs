//! Fetching a URL into a writer, whatever its scheme: HTTP and HTTPS (`http`), FTP (`ftp`) or TFTP (`tftp`), with a
//! timeout per connection and read, a size limit and progress (`transfer`).

use std::io::Write;

use crate::net::transfer::Transfer;
use crate::net::url::{Scheme, Url};
use crate::net::{ftp, http, tftp};

/// Fetches `url` into `out`, returning the byte count.
pub fn fetch(url: &Url, out: &mut dyn Write, transfer: &mut Transfer) -> Result<u64, String> {
    match url.scheme {
        Scheme::Ftp => ftp::retrieve(url, out, transfer),
        Scheme::Http | Scheme::Https => http::get(url, out, transfer),
        Scheme::Tftp => tftp::get(url, out, transfer),
    }
}
