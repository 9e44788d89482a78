//! A TCP proxy in front of the test server, the suite's tool for network
//! faults. It forwards both ways until told otherwise:
//!
//! * [`Proxy::cut_after`]: the client's next packet matching a trigger is
//!   forwarded, the server's reply is awaited (so the statement did run),
//!   and then both sides are cut before the reply reaches the client;
//! * [`Proxy::cut_on`]: the same, but cut at once, while the statement may
//!   still be running (or waiting) on the server;
//! * [`Proxy::swallow`]: the matching packet is forwarded and runs, but
//!   nothing the server sends back on that connection is passed on;
//! * [`Proxy::black_hole`]: from now on nothing is forwarded in either
//!   direction, but every socket stays open (a hung network or server);
//! * [`Proxy::hole_on`]: the same, from the next packet matching a trigger
//!   (a hang at exactly that step, COMMIT for one);
//! * [`Proxy::heal`]: new connections are forwarded again;
//! * [`Proxy::pause_on`]: the next packet matching a trigger is held until
//!   [`Proxy::resume`] (a client stopped at exactly that step, while the
//!   test changes something under it), then forwarded as usual.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What to do with the client's packets.
type Trigger = fn(&[u8]) -> bool;

#[derive(Default)]
struct State {
    /// Set: what to do with the next client packet for which the trigger
    /// is true.
    armed: Mutex<Option<(Trigger, Mode)>>,
    /// A cut happened.
    cut: AtomicBool,
    /// Nothing is forwarded while set.
    holed: AtomicBool,
    /// Set once a packet is held in the black hole (see
    /// [`Proxy::holds_a_packet`]).
    holding: AtomicBool,
    /// Set while a paused packet is held (see [`Proxy::pause_on`]).
    paused: (Mutex<bool>, Condvar),
}

/// A proxy listening on a loopback port of its own.
pub struct Proxy {
    pub port: u16,
    state: Arc<State>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Forward it, await the reply, cut.
    CutAfterReply,
    /// Forward it, cut at once.
    CutNow,
    /// Forward it, drop every reply, keep the connection open.
    Swallow,
    /// Do not forward it: from then on, nothing is forwarded at all.
    Hole,
    /// Hold it until resumed, then forward it.
    Pause,
}

/// First byte of a MySQL command packet (after the 4-byte header).
fn command(p: &[u8]) -> Option<u8> {
    p.get(4).copied()
}

/// COM_STMT_EXECUTE: a prepared statement runs (every protocol write).
pub fn is_execute(p: &[u8]) -> bool {
    command(p) == Some(0x17)
}

/// COM_QUERY: a text-protocol statement (session setup, reads of whole
/// tables, COMMIT).
pub fn is_query(p: &[u8]) -> bool {
    command(p) == Some(0x03)
}

/// A text-protocol COMMIT.
pub fn is_commit(p: &[u8]) -> bool {
    p.windows(6).any(|w| w == b"COMMIT")
}

impl Proxy {
    /// Starts forwarding to `upstream` (`host:port`).
    pub fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let st = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let link = Arc::new(Link::default());
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (st1, l1) = (st.clone(), link.clone());
                std::thread::spawn(move || pump(s2, c2, &st1, &l1, false));
                let (st2, l2) = (st.clone(), link);
                std::thread::spawn(move || pump(client, server, &st2, &l2, true));
            }
        });
        Proxy { port, state }
    }

    /// The next client packet for which `trigger` is true is forwarded, its
    /// reply awaited, and then the connection is cut before the reply
    /// reaches the client.
    pub fn cut_after(&self, trigger: Trigger) {
        *self.state.armed.lock().unwrap() = Some((trigger, Mode::CutAfterReply));
    }

    /// The next client packet for which `trigger` is true is forwarded and
    /// the connection cut at once: the statement is sent, its fate unknown.
    pub fn cut_on(&self, trigger: Trigger) {
        *self.state.armed.lock().unwrap() = Some((trigger, Mode::CutNow));
    }

    /// The next client packet for which `trigger` is true is forwarded (it
    /// runs), but nothing the server says on that connection gets through.
    pub fn swallow(&self, trigger: Trigger) {
        *self.state.armed.lock().unwrap() = Some((trigger, Mode::Swallow));
    }

    /// Whether a cut happened (and resets it).
    pub fn took_cut(&self) -> bool {
        self.state.cut.swap(false, Ordering::SeqCst)
    }

    /// The next client packet for which `trigger` is true is held, and so
    /// is everything after it, on every connection: a hang at that point.
    pub fn hole_on(&self, trigger: Trigger) {
        *self.state.armed.lock().unwrap() = Some((trigger, Mode::Hole));
    }

    /// The next client packet for which `trigger` is true is held (not
    /// forwarded) until [`Proxy::resume`]; [`Proxy::wait_paused`] waits
    /// until it is.
    pub fn pause_on(&self, trigger: Trigger) {
        *self.state.paused.0.lock().unwrap() = false;
        *self.state.armed.lock().unwrap() = Some((trigger, Mode::Pause));
    }

    /// Waits until a packet is held by [`Proxy::pause_on`] (30 s at most).
    pub fn wait_paused(&self) {
        let (lock, cv) = &self.state.paused;
        let held = cv
            .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(30), |p| !*p)
            .unwrap();
        assert!(*held.0, "no packet was paused");
    }

    /// Forwards the held packet, and everything after it.
    pub fn resume(&self) {
        let (lock, cv) = &self.state.paused;
        *lock.lock().unwrap() = false;
        cv.notify_all();
    }

    /// Stops forwarding anything, keeping every socket open.
    pub fn black_hole(&self) {
        self.state.holding.store(false, Ordering::SeqCst);
        self.state.holed.store(true, Ordering::SeqCst);
    }

    /// Whether something was sent into the black hole since
    /// [`Proxy::black_hole`]: the client is now hung, waiting on it.
    pub fn holds_a_packet(&self) -> bool {
        self.state.holding.load(Ordering::SeqCst)
    }

    /// Forwards again.
    pub fn heal(&self) {
        self.state.holed.store(false, Ordering::SeqCst);
    }
}

/// One proxied connection: set `dead` once its reply must never arrive
/// (and `swallow` when the connection stays open all the same); `replied`
/// is signalled when the server answered after the trigger.
#[derive(Default)]
struct Link {
    dead: AtomicBool,
    swallow: AtomicBool,
    replied: (Mutex<bool>, Condvar),
}

fn pump(mut from: TcpStream, mut to: TcpStream, st: &State, link: &Link, client_side: bool) {
    let mut buf = [0u8; 65_536];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while st.holed.load(Ordering::SeqCst) {
            // A black hole: hold everything, keep the sockets open (until
            // healed: this is the hang itself, not a wait for anything).
            st.holding.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
        }
        if !client_side && link.dead.load(Ordering::SeqCst) {
            // The server answered the last packet: the statement ran. The
            // reply is dropped on the floor, and both sides are cut (unless
            // swallowing: then the client just never hears back).
            let (lock, cv) = &link.replied;
            *lock.lock().unwrap() = true;
            cv.notify_all();
            st.cut.store(true, Ordering::SeqCst);
            if link.swallow.load(Ordering::SeqCst) {
                continue;
            }
            break;
        }
        let trip = if client_side {
            let mut armed = st.armed.lock().unwrap();
            match *armed {
                Some((trigger, mode)) if trigger(&buf[..n]) => {
                    *armed = None;
                    Some(mode)
                }
                _ => None,
            }
        } else {
            None
        };
        match trip {
            Some(Mode::Pause) => {
                // Held here until resumed, then forwarded as any other.
                let (lock, cv) = &st.paused;
                let mut held = lock.lock().unwrap();
                *held = true;
                cv.notify_all();
                while *held {
                    held = cv.wait(held).unwrap();
                }
                drop(held);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
                continue;
            }
            Some(Mode::Hole) => {
                // Held, and never delivered: the client gives up on it.
                st.holed.store(true, Ordering::SeqCst);
                st.cut.store(true, Ordering::SeqCst);
                continue;
            }
            Some(mode) => {
                link.swallow.store(mode == Mode::Swallow, Ordering::SeqCst);
                link.dead.store(true, Ordering::SeqCst);
            }
            None => {}
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if trip == Some(Mode::Swallow) {
            continue;
        }
        if let Some(mode) = trip {
            if mode == Mode::CutAfterReply {
                // Wait until the server has answered: it ran the statement.
                let (lock, cv) = &link.replied;
                let guard = lock.lock().unwrap();
                let _ = cv
                    .wait_timeout_while(guard, Duration::from_secs(30), |r| !*r)
                    .unwrap();
            }
            st.cut.store(true, Ordering::SeqCst);
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}
