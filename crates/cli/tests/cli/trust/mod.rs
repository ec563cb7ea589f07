//! The service's trust boundary through the `awcopy` binary, tried as an attacker would (issue #30): a user with a valid
//! token and nothing else, or anyone who can publish on the NATS server. Each attack is an
//! assertion that can fail: a recording listener on another loopback address (127.0.0.2)
//! that must receive nothing whatever a user submits, a path that must not leave its root, a
//! forged message that must change nothing, a bound that must be refused with the field named.
//! The attacks that need nothing but the API run in the service crate's own tests.

mod limits;
mod locations;
mod nats;
mod terminal;
