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

/// Who puts a person into a channel that person did not join themselves.
#[derive(Debug, Clone, Copy)]
pub enum Granter<'a> {
    /// A signed-in person: adding a member, inviting a guest, making an
    /// auto-membership rule, or changing a department's or team's members
    /// (in the console, or through a SCIM token they minted). `membership`
    /// is their own membership of the channel.
    Person {
        user: &'a User,
        membership: Option<&'a Membership>,
    },
    /// The identity provider as the operator configured it: single sign-on
    /// group mapping and SCIM tokens minted on the command line. It vouches
    /// for nobody; it only carries out rules, and into a private channel
    /// only the rules whose maker is still an active member of it.
    IdentityProvider,
}

/// The ways into a channel other than joining it oneself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmissionPath {
    /// `POST /channels/{id}/members`.
    DirectAdd,
    /// A guest invitation naming the channel.
    GuestInvitation,
    /// Making an auto-membership rule for the channel (it adds the unit's
    /// members at once, and later members as they join).
    NewRule,
    /// Carrying out an existing rule for someone who joined its department
    /// or team; `maker_still_member` says whether the person who made the
    /// rule is still an active member of the channel.
    FollowRule { maker_still_member: bool },
}

/// Why [`can_admit`] said no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdmissionRefused {
    /// The granter may not know the channel exists: answer 404, as for any
    /// channel they cannot read.
    Hidden,
    /// Refused for the reason given.
    Forbidden(&'static str),
}

/// Whether `granter` may put someone into `channel` along `path`. This is
/// the one rule for every way into a channel that is not joining it
/// oneself (docs/permissions.md, "Ways into a channel"):
///
/// - Conversations and archived channels take nobody new this way.
/// - A private channel is entered only by the act of someone already in it:
///   its members add people, invite guests into it and make rules for it;
///   a rule made by a member is carried out later only when the person
///   changing the unit is a member too, or when the identity provider
///   changes it while the rule's maker is still an active member. Being an
///   owner or admin opens no private channel.
/// - An imported WhatsApp archive or a customer conversation
///   (`external_archive`) is reached only through the compliance roles: a
///   compliance officer or owner who is a member may add someone directly
///   (the server audits it); no rule and no guest invitation reaches one.
/// - Public channels: members and admins add people; admins invite guests
///   and make rules; rules are always carried out.
pub fn can_admit(
    granter: Granter<'_>,
    channel: &Channel,
    external_archive: bool,
    path: AdmissionPath,
) -> Result<(), AdmissionRefused> {
    use AdmissionRefused::{Forbidden, Hidden};
    if let Granter::Person { user, .. } = granter
        && !user.active
    {
        return Err(Forbidden("a deactivated account can do nothing"));
    }
    // Whatever is not public stays unknown to people outside it.
    if let Granter::Person {
        membership: None, ..
    } = granter
        && channel.kind != ChannelKind::Public
    {
        return Err(Hidden);
    }
    if channel.kind.is_conversation() || channel.archived {
        return Err(Forbidden(
            "conversations and archived channels take no new members this way",
        ));
    }
    if external_archive {
        return match granter {
            Granter::Person {
                user,
                membership: Some(_),
            } if path == AdmissionPath::DirectAdd && can_act_for_compliance(user) => Ok(()),
            _ => Err(Forbidden(
                "WhatsApp archives and customer conversations are reached only through the compliance roles",
            )),
        };
    }
    match (channel.kind, granter) {
        (ChannelKind::Private, Granter::Person { user, .. }) => {
            if user.role == Role::Guest {
                Err(Forbidden("guests add nobody to channels"))
            } else {
                Ok(())
            }
        }
        (ChannelKind::Private, Granter::IdentityProvider) => match path {
            AdmissionPath::FollowRule {
                maker_still_member: true,
            } => Ok(()),
            _ => Err(Forbidden(
                "the identity provider adds people to private channels only through rules whose maker is still a member",
            )),
        },
        (_, Granter::IdentityProvider) => Ok(()),
        (_, Granter::Person { user, membership }) => {
            let allowed = user.role.is_admin()
                || (path == AdmissionPath::DirectAdd
                    && membership.is_some()
                    && user.role != Role::Guest);
            if allowed {
                Ok(())
            } else {
                Err(Forbidden("you cannot add members to this channel"))
            }
        }
    }
}

/// The compliance roles: compliance officers, and owners, who may act as
/// one (retention, holds, export, erasure, and reading what is outside
/// their own conversations, always audited).
pub fn can_act_for_compliance(user: &User) -> bool {
    user.active && matches!(user.role, Role::Compliance | Role::Owner)
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

/// How `reader` may see every version of a message (its edit history and
/// deleted text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryAccess {
    /// Their own message: always, unaudited.
    Own,
    /// A compliance read of someone else's message in a conversation the
    /// reader is in: allowed, audited.
    ComplianceInside,
    /// A compliance read outside the reader's own conversations: allowed
    /// only with a stated reason, audited with it.
    ComplianceOutside,
    /// Nobody else reads another author's history (answer 404).
    Denied,
}

/// Outside the compliance roles nobody reads a conversation they are not
/// in; authors always see their own history. `reader_is_member` is the
/// reader's membership of the message's channel.
pub fn history_access(reader: &User, message: &Message, reader_is_member: bool) -> HistoryAccess {
    if !reader.active {
        HistoryAccess::Denied
    } else if message.author_id == reader.id {
        HistoryAccess::Own
    } else if !can_act_for_compliance(reader) {
        HistoryAccess::Denied
    } else if reader_is_member {
        HistoryAccess::ComplianceInside
    } else {
        HistoryAccess::ComplianceOutside
    }
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

/// Whether a SCIM token minted by `maker` may still be used. SCIM acts
/// with the rights of the person who minted the token, capped at admin, so
/// the token works only while its maker is an active owner or admin; a
/// maker deactivated or demoted below admin takes the token down with them.
pub fn can_use_scim_token(maker: &User) -> bool {
    maker.active && maker.role.is_admin()
}

/// Whether SCIM (acting as an admin at most) may change `target`'s account:
/// its user resource (name, userName, emails, active, department, deletion)
/// or its team memberships. Admins do not manage owners' or admins'
/// accounts, so neither does an identity provider: those stay in the
/// hands of owners, in Conclave.
pub fn can_scim_manage(target: &User) -> bool {
    !target.role.is_admin()
}

/// Whether `user` may look through the whole directory of people and
/// hear anyone's presence. Guests see only the people they share a channel
/// with (and themselves).
pub fn can_see_whole_directory(user: &User) -> bool {
    user.active && user.role != Role::Guest
}

/// Whether `actor` may see `target`'s sessions and sign them out: admins,
/// for anyone but owners, whose sessions only owners see.
pub fn can_manage_sessions_of(actor: &User, target: &User) -> bool {
    actor.active
        && actor.role.is_admin()
        && (target.role != Role::Owner || actor.role == Role::Owner)
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

    #[test]
    fn admission_matrix() {
        use AdmissionPath::{DirectAdd, FollowRule, GuestInvitation, NewRule};
        use AdmissionRefused::{Forbidden, Hidden};
        let followed = FollowRule {
            maker_still_member: true,
        };
        let orphaned = FollowRule {
            maker_still_member: false,
        };
        // (role, is member, kind, external archive, path) -> Ok, Hidden or
        // Forbidden; None is the identity provider.
        let table = [
            // Private channels: only by the act of a member.
            (
                Some(Role::Owner),
                false,
                ChannelKind::Private,
                false,
                DirectAdd,
                Err(Hidden),
            ),
            (
                Some(Role::Admin),
                false,
                ChannelKind::Private,
                false,
                NewRule,
                Err(Hidden),
            ),
            (
                Some(Role::Admin),
                false,
                ChannelKind::Private,
                false,
                GuestInvitation,
                Err(Hidden),
            ),
            (
                Some(Role::Admin),
                false,
                ChannelKind::Private,
                false,
                followed,
                Err(Hidden),
            ),
            (
                Some(Role::Admin),
                true,
                ChannelKind::Private,
                false,
                NewRule,
                Ok(()),
            ),
            (
                Some(Role::Admin),
                true,
                ChannelKind::Private,
                false,
                followed,
                Ok(()),
            ),
            (
                Some(Role::Member),
                true,
                ChannelKind::Private,
                false,
                DirectAdd,
                Ok(()),
            ),
            (
                Some(Role::Guest),
                true,
                ChannelKind::Private,
                false,
                DirectAdd,
                Err(Forbidden("")),
            ),
            (None, false, ChannelKind::Private, false, followed, Ok(())),
            (
                None,
                false,
                ChannelKind::Private,
                false,
                orphaned,
                Err(Forbidden("")),
            ),
            // Public channels.
            (
                Some(Role::Admin),
                false,
                ChannelKind::Public,
                false,
                DirectAdd,
                Ok(()),
            ),
            (
                Some(Role::Admin),
                false,
                ChannelKind::Public,
                false,
                NewRule,
                Ok(()),
            ),
            (
                Some(Role::Member),
                true,
                ChannelKind::Public,
                false,
                DirectAdd,
                Ok(()),
            ),
            (
                Some(Role::Member),
                false,
                ChannelKind::Public,
                false,
                DirectAdd,
                Err(Forbidden("")),
            ),
            (
                Some(Role::Member),
                true,
                ChannelKind::Public,
                false,
                NewRule,
                Err(Forbidden("")),
            ),
            (None, false, ChannelKind::Public, false, orphaned, Ok(())),
            // Conversations take nobody new.
            (
                Some(Role::Owner),
                true,
                ChannelKind::Group,
                false,
                DirectAdd,
                Err(Forbidden("")),
            ),
            (
                Some(Role::Admin),
                false,
                ChannelKind::Direct,
                false,
                NewRule,
                Err(Hidden),
            ),
            // Archives: compliance roles only, directly, as members.
            (
                Some(Role::Compliance),
                true,
                ChannelKind::Private,
                true,
                DirectAdd,
                Ok(()),
            ),
            (
                Some(Role::Owner),
                true,
                ChannelKind::Private,
                true,
                DirectAdd,
                Ok(()),
            ),
            (
                Some(Role::Member),
                true,
                ChannelKind::Private,
                true,
                DirectAdd,
                Err(Forbidden("")),
            ),
            (
                Some(Role::Admin),
                true,
                ChannelKind::Private,
                true,
                DirectAdd,
                Err(Forbidden("")),
            ),
            (
                Some(Role::Admin),
                false,
                ChannelKind::Private,
                true,
                NewRule,
                Err(Hidden),
            ),
            (
                Some(Role::Compliance),
                true,
                ChannelKind::Private,
                true,
                NewRule,
                Err(Forbidden("")),
            ),
            (
                Some(Role::Compliance),
                true,
                ChannelKind::Private,
                true,
                GuestInvitation,
                Err(Forbidden("")),
            ),
            (
                None,
                false,
                ChannelKind::Private,
                true,
                followed,
                Err(Forbidden("")),
            ),
        ];
        for (role, is_member, kind, archive, path, expected) in table {
            let granter_user = role.map(|role| user(1, role));
            let m = member(1);
            let granter = match &granter_user {
                Some(user) => Granter::Person {
                    user,
                    membership: is_member.then_some(&m),
                },
                None => Granter::IdentityProvider,
            };
            let got = can_admit(granter, &channel(kind), archive, path);
            let same = matches!(
                (&got, &expected),
                (Ok(()), Ok(()))
                    | (Err(Hidden), Err(Hidden))
                    | (Err(Forbidden(_)), Err(Forbidden(_)))
            );
            assert!(
                same,
                "{role:?} member={is_member} {kind:?} archive={archive} {path:?}: {got:?}"
            );
        }
        let mut archived = channel(ChannelKind::Public);
        archived.archived = true;
        let owner = user(1, Role::Owner);
        assert!(
            can_admit(
                Granter::Person {
                    user: &owner,
                    membership: None
                },
                &archived,
                false,
                DirectAdd
            )
            .is_err()
        );
    }

    #[test]
    fn history_is_the_authors_and_the_compliance_roles() {
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
        let table = [
            (user(1, Role::Guest), false, HistoryAccess::Own),
            (user(2, Role::Owner), true, HistoryAccess::ComplianceInside),
            (
                user(2, Role::Owner),
                false,
                HistoryAccess::ComplianceOutside,
            ),
            (
                user(2, Role::Compliance),
                false,
                HistoryAccess::ComplianceOutside,
            ),
            (user(2, Role::Admin), true, HistoryAccess::Denied),
            (user(2, Role::Member), true, HistoryAccess::Denied),
        ];
        for (reader, is_member, expected) in table {
            assert_eq!(
                history_access(&reader, &message, is_member),
                expected,
                "{:?} member={is_member}",
                reader.role
            );
        }
        let mut gone = user(1, Role::Owner);
        gone.active = false;
        assert_eq!(history_access(&gone, &message, true), HistoryAccess::Denied);
    }

    #[test]
    fn sessions_of_owners_are_for_owners() {
        let owner = user(1, Role::Owner);
        let admin = user(2, Role::Admin);
        let member = user(3, Role::Member);
        assert!(can_manage_sessions_of(&owner, &admin));
        assert!(can_manage_sessions_of(&admin, &member));
        assert!(!can_manage_sessions_of(&admin, &owner));
        assert!(!can_manage_sessions_of(&member, &member));
        assert!(can_see_whole_directory(&member));
        assert!(!can_see_whole_directory(&user(4, Role::Guest)));
    }

    #[test]
    fn scim_tokens_carry_their_makers_rights_capped_at_admin() {
        // (maker's role, maker active, token usable)
        let makers = [
            (Role::Owner, true, true),
            (Role::Admin, true, true),
            (Role::Admin, false, false),
            (Role::Owner, false, false),
            (Role::Compliance, true, false),
            (Role::Member, true, false),
            (Role::Guest, true, false),
        ];
        for (role, active, usable) in makers {
            let mut maker = user(1, role);
            maker.active = active;
            assert_eq!(
                can_use_scim_token(&maker),
                usable,
                "{role:?} active={active}"
            );
        }
        // (target's role, SCIM may change them): an admin's reach, whoever
        // minted the token.
        let targets = [
            (Role::Owner, false),
            (Role::Admin, false),
            (Role::Compliance, true),
            (Role::Member, true),
            (Role::Guest, true),
        ];
        for (role, manageable) in targets {
            assert_eq!(can_scim_manage(&user(2, role)), manageable, "{role:?}");
        }
    }
}
