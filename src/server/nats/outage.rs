//! One warning per NATS outage: the client reports every failed connection attempt, and a
//! server that logged each of them would bury everything else while NATS is down.

use async_nats::Event;

/// What to tell the operator about a connection event, if anything.
#[derive(Debug, PartialEq)]
pub enum Notice {
    /// NATS became unreachable (at start, or mid-run): warn once.
    Lost(String),
    /// Connected again after an outage.
    Back,
    /// Connected for the first time with no outage before.
    Up,
}

/// Whether NATS is known to be unreachable, so repeated failures stay quiet.
#[derive(Debug, Default)]
pub struct Outage {
    down: bool,
    ever_up: bool,
}

impl Outage {
    pub fn observe(&mut self, event: &Event) -> Option<Notice> {
        match event {
            Event::Connected => {
                let notice = if self.down {
                    Notice::Back
                } else if self.ever_up {
                    return None;
                } else {
                    Notice::Up
                };
                self.down = false;
                self.ever_up = true;
                Some(notice)
            }
            Event::Disconnected | Event::ClientError(_) if !self.down => {
                self.down = true;
                Some(Notice::Lost(event.to_string()))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_nats::ClientError;

    #[test]
    fn an_outage_warns_once_however_many_attempts_fail() {
        let failed = || Event::ClientError(ClientError::Other("connection refused".into()));
        let mut outage = Outage::default();
        assert!(matches!(outage.observe(&failed()), Some(Notice::Lost(_))));
        for _ in 0..50 {
            assert_eq!(outage.observe(&failed()), None);
        }
        assert_eq!(outage.observe(&Event::Connected), Some(Notice::Back));
        assert_eq!(outage.observe(&Event::Connected), None);
        assert!(matches!(
            outage.observe(&Event::Disconnected),
            Some(Notice::Lost(_))
        ));
        assert_eq!(outage.observe(&failed()), None);
        assert_eq!(outage.observe(&Event::Connected), Some(Notice::Back));

        let mut fresh = Outage::default();
        assert_eq!(fresh.observe(&Event::Connected), Some(Notice::Up));
    }
}
