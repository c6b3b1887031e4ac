//! Who may do what. Every read and write in the server asks one of these
//! functions; none of them performs I/O, so callers pass in what they know.

use crate::model::{Channel, ChannelKind, Membership, Message, Role, User};

/// Whether `user` may read `channel`'s history. Public channels are open to
/// every active non-guest, as in Slack; guests and every other kind need
/// membership.
pub fn can_read_channel(user: &User, channel: &Channel, membership: Option<&Membership>) -> bool {
    if !user.active {
        return false;
    }
    if membership.is_some() {
        return true;
    }
    channel.kind == ChannelKind::Public && user.role != Role::Guest
}

/// Whether `user` may post in `channel`: members only, never in archived or
/// read-only channels.
pub fn can_post(user: &User, channel: &Channel, membership: Option<&Membership>) -> bool {
    user.active && membership.is_some() && !channel.archived && !channel.read_only
}

pub fn can_join(user: &User, channel: &Channel) -> bool {
    user.active
        && channel.kind == ChannelKind::Public
        && user.role != Role::Guest
        && !channel.archived
}

/// Whether `user` may add someone else to `channel`.
pub fn can_add_members(user: &User, channel: &Channel, membership: Option<&Membership>) -> bool {
    if !user.active || channel.archived || channel.kind.is_conversation() {
        return false;
    }
    if user.role.is_admin() {
        return true;
    }
    membership.is_some() && user.role != Role::Guest
}

/// Whether `user` may remove `target` from `channel`: anyone may leave; the
/// channel's creator and admins may remove others. Nobody leaves a direct
/// conversation (it is the two people's shared record).
pub fn can_remove_member(user: &User, channel: &Channel, target: &User) -> bool {
    if !user.active || channel.kind == ChannelKind::Direct {
        return false;
    }
    user.id == target.id || user.role.is_admin() || channel.created_by == user.id
}

pub fn can_create_channel(user: &User) -> bool {
    user.active && user.role != Role::Guest
}

/// Whether `user` may rename, re-topic or archive `channel`.
pub fn can_update_channel(user: &User, channel: &Channel, membership: Option<&Membership>) -> bool {
    if !user.active || channel.kind.is_conversation() {
        return false;
    }
    user.role.is_admin() || (membership.is_some() && user.role != Role::Guest)
}

/// Authors edit their own messages; nobody edits a deleted one.
pub fn can_edit_message(user: &User, message: &Message) -> bool {
    user.active && message.author_id == user.id && message.deleted_at.is_none()
}

/// Authors delete their own messages; admins delete anyone's.
pub fn can_delete_message(user: &User, message: &Message) -> bool {
    user.active
        && message.deleted_at.is_none()
        && (message.author_id == user.id || user.role.is_admin())
}

/// Reacting, pinning and marking read need read access and membership.
pub fn can_interact(user: &User, channel: &Channel, membership: Option<&Membership>) -> bool {
    user.active && membership.is_some() && !channel.archived
}

/// Whether `user` may see every version of a message (its edit history and
/// deleted text): its author, and compliance officers.
pub fn can_see_history(user: &User, message: &Message) -> bool {
    user.active
        && (message.author_id == user.id || matches!(user.role, Role::Compliance | Role::Owner))
}

/// Whether `user` may create other users from the API.
pub fn can_manage_users(user: &User) -> bool {
    user.active && user.role.is_admin()
}

/// Whether `actor` may give `target` the role `new_role`. Admins manage
/// members, compliance officers and guests; only owners grant or take away
/// the owner and admin roles. Nobody changes their own role, so an owner
/// cannot lock the workspace out by accident.
pub fn can_change_role(actor: &User, target: &User, new_role: Role) -> bool {
    if !actor.active || !actor.role.is_admin() || actor.id == target.id {
        return false;
    }
    let touches_administrators = target.role.is_admin() || new_role.is_admin();
    !touches_administrators || actor.role == Role::Owner
}

/// Whether `actor` may deactivate or reactivate `target`: admins may, for
/// anyone but owners and admins, whom only owners (de)activate. Nobody
/// deactivates themselves.
pub fn can_set_active(actor: &User, target: &User) -> bool {
    if !actor.active || !actor.role.is_admin() || actor.id == target.id {
        return false;
    }
    !target.role.is_admin() || actor.role == Role::Owner
}

/// Whether `user` may shape the directory: departments, teams,
/// auto-membership rules, guests and SCIM tokens.
pub fn can_manage_directory(user: &User) -> bool {
    user.active && user.role.is_admin()
}

/// Whether `user` may list every account, deactivated ones included
/// (administrators, and compliance officers who look for custodians).
pub fn can_list_all_users(user: &User) -> bool {
    user.active && matches!(user.role, Role::Owner | Role::Admin | Role::Compliance)
}

/// Whether `user` may see and add a channel's incoming webhooks: active
/// members who are not guests. Whether the channel accepts new hooks
/// (not archived, not read-only, not a customer conversation) is checked
/// separately, since listing stays allowed there.
pub fn can_manage_channel_webhooks(user: &User, membership: Option<&Membership>) -> bool {
    user.active && membership.is_some() && user.role != Role::Guest
}

/// Whether `user` may revoke a hook made by `creator_id`: its creator, or
/// an owner or admin.
pub fn can_revoke_webhook(user: &User, creator_id: crate::UserId) -> bool {
    user.active && (user.id == creator_id || user.role.is_admin())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role) -> User {
        User {
            id,
            email: format!("u{id}@example.com"),
            handle: format!("u{id}"),
            name: format!("User {id}"),
            role,
            active: true,
            created_at: 0,
            deactivated_at: None,
        }
    }

    fn channel(kind: ChannelKind) -> Channel {
        Channel {
            id: 1,
            kind,
            name: "c".into(),
            topic: String::new(),
            archived: false,
            read_only: false,
            created_by: 99,
            created_at: 0,
        }
    }

    fn member(user_id: i64) -> Membership {
        Membership {
            channel_id: 1,
            user_id,
            joined_at: 0,
            last_read_message_id: 0,
        }
    }

    #[test]
    fn read_matrix() {
        // (role, kind, is member) -> may read
        let table = [
            (Role::Member, ChannelKind::Public, false, true),
            (Role::Guest, ChannelKind::Public, false, false),
            (Role::Guest, ChannelKind::Public, true, true),
            (Role::Member, ChannelKind::Private, false, false),
            (Role::Admin, ChannelKind::Private, false, false),
            (Role::Owner, ChannelKind::Direct, false, false),
            (Role::Member, ChannelKind::Private, true, true),
            (Role::Member, ChannelKind::Group, true, true),
        ];
        for (role, kind, is_member, expected) in table {
            let u = user(1, role);
            let m = member(1);
            let got = can_read_channel(&u, &channel(kind), is_member.then_some(&m));
            assert_eq!(got, expected, "{role:?} {kind:?} member={is_member}");
        }
    }

    #[test]
    fn deactivated_users_can_do_nothing() {
        let mut u = user(1, Role::Owner);
        u.active = false;
        let m = member(1);
        let c = channel(ChannelKind::Public);
        assert!(!can_read_channel(&u, &c, Some(&m)));
        assert!(!can_post(&u, &c, Some(&m)));
        assert!(!can_create_channel(&u));
    }

    #[test]
    fn posting_needs_membership_and_an_open_channel() {
        let u = user(1, Role::Member);
        let m = member(1);
        let mut c = channel(ChannelKind::Public);
        assert!(!can_post(&u, &c, None));
        assert!(can_post(&u, &c, Some(&m)));
        c.archived = true;
        assert!(!can_post(&u, &c, Some(&m)));
        c.archived = false;
        c.read_only = true;
        assert!(!can_post(&u, &c, Some(&m)));
    }

    #[test]
    fn message_edit_and_delete() {
        let author = user(1, Role::Member);
        let other = user(2, Role::Member);
        let admin = user(3, Role::Admin);
        let message = Message {
            id: 1,
            channel_id: 1,
            author_id: 1,
            thread_id: None,
            text: "x".into(),
            mentions: vec![],
            created_at: 0,
            edited_at: None,
            deleted_at: None,
            pinned: false,
            reply_count: 0,
            last_reply_at: None,
            reactions: vec![],
            attachments: vec![],
            client_id: None,
        };
        assert!(can_edit_message(&author, &message));
        assert!(!can_edit_message(&other, &message));
        assert!(!can_edit_message(&admin, &message));
        assert!(can_delete_message(&author, &message));
        assert!(!can_delete_message(&other, &message));
        assert!(can_delete_message(&admin, &message));
    }
}
