//! The live connection's state, shown in the run header so nothing stale passes for live.

/// What carries the live stream: the WebSocket, or one of its fallbacks when a proxy or
/// network blocks it.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    /// Server-Sent Events.
    Sse,
    /// `GET …/events?since=` every second.
    Polling,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Sse => "sse",
            Transport::Polling => "polling",
        }
    }
}

/// Where the live stream stands. (Only the browser moves it past `Connecting`.)
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conn {
    /// Server-rendered, before the browser has connected.
    Connecting,
    Live(Transport),
    /// Connected, but the page paints changes later than it should (a slow machine or a huge
    /// graph): what is on screen may be behind.
    Behind(Transport),
    /// Lost; retrying with backoff.
    Reconnecting,
    /// Several attempts failed; still retrying, more slowly.
    Offline,
    /// The run has finished: nothing more will arrive.
    Final,
    /// The run no longer exists on the server.
    Gone,
}

impl Conn {
    pub fn as_str(self) -> &'static str {
        match self {
            Conn::Connecting => "connecting",
            Conn::Live(_) => "live",
            Conn::Behind(_) => "behind",
            Conn::Reconnecting => "reconnecting",
            Conn::Offline => "offline",
            Conn::Final => "final",
            Conn::Gone => "gone",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Conn::Connecting => "Connecting…",
            Conn::Live(Transport::WebSocket) => "Live",
            Conn::Live(Transport::Sse) => "Live (SSE)",
            Conn::Live(Transport::Polling) => "Live (polling)",
            Conn::Behind(_) => "Catching up…",
            Conn::Reconnecting => "Reconnecting…",
            Conn::Offline => "Offline",
            Conn::Final => "Finished",
            Conn::Gone => "Run deleted",
        }
    }

    /// What the data on screen can be trusted as: up to date (live or final), or possibly stale.
    pub fn is_current(self) -> bool {
        matches!(self, Conn::Live(_) | Conn::Final)
    }

    pub fn transport(self) -> Option<&'static str> {
        match self {
            Conn::Live(transport) | Conn::Behind(transport) => Some(transport.as_str()),
            _ => None,
        }
    }
}
