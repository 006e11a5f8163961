"""The state of the stand-in workspace: people, channels, user groups, messages, files.

One lock guards everything; every change notifies :attr:`Workspace.changed`, so tests can wait
for a bot's asynchronous work (``SlackSandbox.wait_until``) instead of sleeping. The clock is
injected. The Web API methods (slack_api_*.py) and the response_url handler
(slack_responses.py) are the only writers.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from typing import Any

from sandbox.slack_errors import SlackAPIError
from sandbox.slack_limits import MessageContent
from sandbox.slack_model import Channel, Ephemeral, Message, StoredFile, User, Usergroup

DEFAULT_USERS = (
    User("U0ALICE", "alice", "Alice Archer", "alice@example.com", is_admin=True),
    User("U0BOB", "bob", "Bob Baker", "bob@example.com"),
    User("U0CAROL", "carol", "Carol Chen", "carol@example.com"),
    User("U0DAVE", "dave", "Dave Diaz", "dave@example.com"),
)
# (id, name, member ids or None for every user, whether the bot is a member)
DEFAULT_CHANNELS: tuple[tuple[str, str, tuple[str, ...] | None, bool], ...] = (
    ("C0DEPLOYS", "deploys", ("U0ALICE", "U0BOB", "U0CAROL"), True),
    ("C0GENERAL", "general", None, True),
    ("C0RANDOM", "random", ("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"), False),
)
DEFAULT_USERGROUPS = (
    Usergroup("S0PLATFORM", "platform", "Platform team", ["U0ALICE", "U0CAROL"]),
    Usergroup("S0DEVS", "developers", "Developers", ["U0BOB", "U0CAROL", "U0DAVE"]),
)


class Workspace:
    """Directory plus message store of one Slack team."""

    def __init__(
        self,
        *,
        team_id: str,
        team_domain: str,
        bot_user_id: str,
        bot_name: str,
        bot_id: str,
        app_id: str,
        clock: Callable[[], float],
    ) -> None:
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_name = bot_name
        self.bot_id = bot_id
        self.app_id = app_id
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.users: dict[str, User] = {bot_user_id: User(bot_user_id, bot_name, is_bot=True)}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self.files: dict[str, StoredFile] = {}
        self._messages: dict[str, list[Message]] = {}
        self._ephemerals: dict[str, list[Ephemeral]] = {}
        self._by_ts: dict[tuple[str, str], Message] = {}
        self._last_micros = 0
        self._ids = itertools.count(1)

    # ---- directory -------------------------------------------------------------------------

    def seed_defaults(self) -> None:
        """Alice, Bob, Carol, Dave; #deploys, #general, #random (no bot); two user groups."""
        for user in DEFAULT_USERS:
            self.add_user(User(**vars(user)))
        for channel_id, name, members, bot in DEFAULT_CHANNELS:
            self.add_channel(channel_id, name, members, bot=bot)
        for group in DEFAULT_USERGROUPS:
            self.add_usergroup(Usergroup(group.id, group.handle, group.name, list(group.users)))

    def add_user(self, user: User) -> None:
        with self.lock:
            self.users[user.id] = user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        members: Iterable[str] | None = None,
        *,
        is_private: bool = False,
        bot: bool = True,
    ) -> Channel:
        """Add a channel; members default to every current user. The bot joins unless
        ``bot=False`` (then posting there fails with ``not_in_channel``, as in Slack)."""
        with self.lock:
            ids = list(members) if members is not None else [u for u in self.users]
            if bot and self.bot_user_id not in ids:
                ids.append(self.bot_user_id)
            if not bot and self.bot_user_id in ids:
                ids.remove(self.bot_user_id)
            channel = Channel(
                channel_id, name.lstrip("#"), ids, is_private=is_private, created=int(self.clock())
            )
            self.channels[channel_id] = channel
            self._messages.setdefault(channel_id, [])
            self._ephemerals.setdefault(channel_id, [])
            return channel

    def add_usergroup(self, group: Usergroup) -> None:
        with self.lock:
            self.usergroups[group.id] = group

    def channel(self, ref: Any, *, error: str = "channel_not_found") -> Channel:
        """A conversation by ID, ``#name`` or name; a user ID means the DM with that user."""
        with self.lock:
            if not isinstance(ref, str) or not ref:
                raise SlackAPIError(error)
            if ref in self.channels:
                return self.channels[ref]
            if ref in self.users and ref != self.bot_user_id:
                return self.open_im(ref)[0]
            name = ref.lstrip("#")
            for channel in self.channels.values():
                if channel.name == name and not channel.is_im:
                    return channel
            raise SlackAPIError(error)

    def open_im(self, user_id: str) -> tuple[Channel, bool]:
        """The DM channel with ``user_id`` (created on first use) and whether it existed."""
        with self.lock:
            if user_id not in self.users:
                raise SlackAPIError("user_not_found")
            for channel in self.channels.values():
                if channel.im_user == user_id:
                    return channel, True
            channel_id = "D0" + user_id.removeprefix("U").removeprefix("0")
            channel = Channel(
                channel_id,
                user_id,
                [user_id, self.bot_user_id],
                im_user=user_id,
                created=int(self.clock()),
            )
            self.channels[channel_id] = channel
            self._messages[channel_id] = []
            self._ephemerals[channel_id] = []
            return channel, False

    # ---- ids and time ----------------------------------------------------------------------

    def next_ts(self) -> str:
        """A fresh message timestamp: the clock, strictly increasing, microsecond precision."""
        with self.lock:
            micros = max(int(self.clock() * 1_000_000), self._last_micros + 1)
            self._last_micros = micros
            return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        """A Slack-shaped ID such as ``F0000000001``."""
        return f"{prefix}{next(self._ids):010d}"

    def notify(self) -> None:
        with self.lock:
            self.changed.notify_all()

    # ---- messages --------------------------------------------------------------------------

    def post(
        self,
        channel: Channel,
        content: MessageContent,
        *,
        via: str,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        files: list[StoredFile] | None = None,
    ) -> Message:
        """Post as the app's bot user; a ``thread_ts`` naming a reply threads under its parent."""
        with self.lock:
            message = Message(
                ts=self.next_ts(),
                channel=channel.id,
                user=self.bot_user_id,
                bot_id=self.bot_id,
                app_id=self.app_id,
                text=content.text or "",
                blocks=content.blocks or [],
                attachments=content.attachments or [],
                via=via,
                files=list(files or []),
            )
            parent = self._by_ts.get((channel.id, thread_ts)) if thread_ts else None
            if parent is not None and parent.thread_ts:
                parent = self._by_ts.get((channel.id, parent.thread_ts))
            if parent is not None:
                message.thread_ts = parent.ts
                message.reply_broadcast = reply_broadcast
                parent.replies.append(message)
            else:
                message.unknown_thread_ts = thread_ts
                self._messages[channel.id].append(message)
            self._by_ts[(channel.id, message.ts)] = message
            self.changed.notify_all()
            return message

    def message(self, channel: Channel, ts: Any) -> Message:
        with self.lock:
            found = self._by_ts.get((channel.id, ts)) if isinstance(ts, str) else None
            if found is None or found.deleted:
                raise SlackAPIError("message_not_found")
            return found

    def delete(self, message: Message) -> None:
        """Remove a message; a parent with replies stays as a "deleted" placeholder."""
        with self.lock:
            message.deleted = True
            message.text, message.blocks, message.attachments = "", [], []
            if message.thread_ts:
                parent = self._by_ts[(message.channel, message.thread_ts)]
                parent.replies.remove(message)
            elif not message.replies:
                self._messages[message.channel].remove(message)
            self.changed.notify_all()

    def post_ephemeral(
        self,
        channel: Channel,
        user_id: str,
        content: MessageContent,
        *,
        via: str,
        thread_ts: str | None = None,
    ) -> Ephemeral:
        with self.lock:
            ephemeral = Ephemeral(
                ts=self.next_ts(),
                channel=channel.id,
                user=user_id,
                text=content.text or "",
                blocks=content.blocks or [],
                attachments=content.attachments or [],
                via=via,
                thread_ts=thread_ts,
            )
            self._ephemerals[channel.id].append(ephemeral)
            self.changed.notify_all()
            return ephemeral

    def ephemeral(self, channel_id: str, ts: str) -> Ephemeral | None:
        with self.lock:
            for ephemeral in self._ephemerals.get(channel_id, []):
                if ephemeral.ts == ts and not ephemeral.deleted:
                    return ephemeral
            return None

    def top_level(self, channel: Channel) -> list[Message]:
        """The channel's top-level messages, oldest first (placeholders of deleted ones too)."""
        with self.lock:
            return list(self._messages[channel.id])

    def thread(self, channel: Channel, ts: Any) -> list[Message]:
        """The parent and its replies, for conversations.replies."""
        with self.lock:
            parent = self._by_ts.get((channel.id, ts)) if isinstance(ts, str) else None
            if parent is None or (parent.deleted and not parent.replies):
                raise SlackAPIError("thread_not_found")
            if parent.thread_ts:
                parent = self._by_ts[(channel.id, parent.thread_ts)]
            return [parent, *parent.replies]

    # ---- views -----------------------------------------------------------------------------

    def view(self, channel_id: str | None = None) -> dict[str, Any]:
        """What each channel shows (or one channel): messages, threads, edits, ephemerals."""
        with self.lock:
            if channel_id is not None:
                return self._channel_view(self.channel(channel_id))
            return {
                "channels": {cid: self._channel_view(c) for cid, c in self.channels.items()},
            }

    def _channel_view(self, channel: Channel) -> dict[str, Any]:
        return {
            "id": channel.id,
            "name": channel.name,
            "is_im": channel.is_im,
            "messages": [m.view() for m in self._messages[channel.id]],
            "ephemerals": [e.view() for e in self._ephemerals[channel.id]],
        }

    def clear_activity(self) -> None:
        """Forget messages, ephemerals, files and DMs; keep people, channels and groups."""
        with self.lock:
            for channel_id in [c.id for c in self.channels.values() if c.is_im]:
                del self.channels[channel_id]
                del self._messages[channel_id]
                del self._ephemerals[channel_id]
            for channel_id in self._messages:
                self._messages[channel_id] = []
                self._ephemerals[channel_id] = []
            self._by_ts.clear()
            self.files.clear()
            self.changed.notify_all()
