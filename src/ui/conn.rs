//! The live connection's state, shown in the run header so nothing stale passes for live.

/// Where the live stream stands. (Only the browser moves it past `Connecting`.)
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conn {
    /// Server-rendered, before the browser has connected.
    Connecting,
    Live,
    /// Lost; retrying with backoff.
    Reconnecting,
    /// Several attempts failed (or the browser is offline); still retrying, more slowly.
    Offline,
    /// The run had finished when the page loaded: nothing more will arrive.
    Final,
}

impl Conn {
    pub fn as_str(self) -> &'static str {
        match self {
            Conn::Connecting => "connecting",
            Conn::Live => "live",
            Conn::Reconnecting => "reconnecting",
            Conn::Offline => "offline",
            Conn::Final => "final",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Conn::Connecting => "Connecting…",
            Conn::Live => "Live",
            Conn::Reconnecting => "Reconnecting…",
            Conn::Offline => "Offline",
            Conn::Final => "Finished",
        }
    }
}
