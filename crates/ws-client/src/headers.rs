//! Extra request headers: a value per name, several values for one name
//! (sent as repeated headers), and cookies.

/// The extra headers of the opening handshake, in order.
///
/// Names and values are checked when the connection is created: a name
/// that is not an HTTP token, a value with CR, LF or NUL, or a header the
/// handshake sets itself (`Upgrade`, `Connection`, `Sec-WebSocket-*`,
/// `Content-Length`...) makes [`WebSocket::new`](crate::WebSocket::new)
/// fail. `Host` may be set, to address a virtual host other than the
/// URL's. `Cookie` is sent as one header, `"name=value; name2=value2"`.
///
/// ```
/// use ws_client::Headers;
///
/// let headers = Headers::new()
///     .with("X-Authorization", "token")
///     .with("Accept-Language", "en")
///     .with("Accept-Language", "fr") // sent twice
///     .with("Cookie", "yummy_cookie=choco; tasty_cookie=strawberry");
/// assert_eq!(headers.get_all("accept-language").count(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header; a name given again adds another value.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Replaces every value of `name` (any case) with `value`.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.entries.push((name, value.into()));
    }

    /// [`append`](Self::append), by value, for chaining.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.append(name, value);
        self
    }

    /// The first value of `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (any case), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of headers (a repeated name counts each time).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Self {
            entries: iter
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        }
    }
}

impl<N: Into<String>, V: Into<String>, const K: usize> From<[(N, V); K]> for Headers {
    fn from(pairs: [(N, V); K]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<N: Into<String>, V: Into<String>> Extend<(N, V)> for Headers {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        self.entries
            .extend(iter.into_iter().map(|(n, v)| (n.into(), v.into())));
    }
}

/// An `http::HeaderMap` (from hyper, axum or tungstenite code) as the
/// headers to send, repeated ones kept, names in the lowercase `http`
/// gives them (the `http` feature). Fails on a value that is not visible
/// ASCII text, which a handshake header could not carry as a string.
///
/// ```
/// let mut map = http::HeaderMap::new();
/// map.append("accept-language", "fr".parse().unwrap());
/// map.append("accept-language", "en".parse().unwrap());
/// let headers = ws_client::Headers::try_from(&map).unwrap();
/// assert_eq!(headers.get_all("Accept-Language").count(), 2);
/// ```
#[cfg(feature = "http")]
impl TryFrom<&http::HeaderMap> for Headers {
    type Error = http::header::ToStrError;

    fn try_from(map: &http::HeaderMap) -> Result<Self, Self::Error> {
        map.iter()
            .map(|(name, value)| Ok((name.as_str(), value.to_str()?)))
            .collect()
    }
}
