//! Just enough rtnetlink (RFC 3549; linux/rtnetlink.h) for PID 1 to bring an interface
//! up without an `ip` process: RTM_NEWLINK with IFF_UP, then wait for the ACK.

use rustix::fd::OwnedFd;
use rustix::net::{recv, send, socket, AddressFamily, RecvFlags, SendFlags, SocketType};

const RTM_NEWLINK: u16 = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const IFF_UP: u32 = 1;

/// NETLINK_ROUTE is protocol 0, which rustix spells `None`.
fn route_socket() -> std::io::Result<OwnedFd> {
    Ok(socket(AddressFamily::NETLINK, SocketType::RAW, None)?)
}

/// Sets IFF_UP on interface `index` (loopback is always index 1).
pub fn set_link_up(index: i32) -> std::io::Result<()> {
    let fd = route_socket()?;
    let mut msg = Vec::with_capacity(32);
    msg.extend_from_slice(&32u32.to_ne_bytes()); // nlmsg_len: header + ifinfomsg
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: let the kernel assign
    msg.extend_from_slice(&[0, 0]); // ifi_family AF_UNSPEC, padding
    msg.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    msg.extend_from_slice(&index.to_ne_bytes());
    msg.extend_from_slice(&IFF_UP.to_ne_bytes()); // ifi_flags
    msg.extend_from_slice(&IFF_UP.to_ne_bytes()); // ifi_change: only touch IFF_UP
    send(&fd, &msg, SendFlags::empty())?;
    let mut reply = [0u8; 512];
    let n = recv(&fd, &mut reply, RecvFlags::empty())?;
    parse_ack(&reply[..n])
}

fn parse_ack(reply: &[u8]) -> std::io::Result<()> {
    if reply.len() < 20 {
        return Err(std::io::Error::other("short netlink reply"));
    }
    let kind = u16::from_ne_bytes([reply[4], reply[5]]);
    if kind != NLMSG_ERROR {
        return Err(std::io::Error::other(format!("unexpected netlink reply type {kind}")));
    }
    match i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]) {
        0 => Ok(()),
        negative => Err(std::io::Error::from_raw_os_error(-negative)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ack_errors_become_io_errors() {
        let mut reply = vec![0u8; 36];
        reply[4..6].copy_from_slice(&super::NLMSG_ERROR.to_ne_bytes());
        assert!(super::parse_ack(&reply).is_ok());
        reply[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
        assert_eq!(super::parse_ack(&reply).unwrap_err().raw_os_error(), Some(1));
        assert!(super::parse_ack(&reply[..8]).is_err());
    }
}
