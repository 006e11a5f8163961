"""Which of the user groups named in the RBAC settings a Slack user belongs to.

Roles may be given to user groups (``S0PLATFORM``); Slack tells the members of a group through
``usergroups.users.list``. Asking on every command would cost a Web API call per group per
command (Tier 2, about 20 a minute), so each group's member list is kept for ``ttl`` seconds: a
person added to or removed from a group gets or loses the role within that time. A failed
lookup (missing ``usergroups:read`` scope, a deleted group, a Slack outage) counts as "not a
member" — access is never granted on an error — and is remembered for a shorter time so a
fault does not turn into a flood of calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.settings import GROUP_ID, RbacSettings

log = logging.getLogger(__name__)

DEFAULT_TTL: Final = 60.0
FAILURE_TTL: Final = 10.0


def rbac_groups(rbac: RbacSettings) -> frozenset[str]:
    """Every user group ID that holds a role in some project."""
    found: set[str] = set()
    for entry in rbac.projects.values():
        for members in (entry.viewers, entry.deployers, entry.admins):
            found.update(m for m in members if GROUP_ID.match(m))
    return frozenset(found)


@dataclass(frozen=True)
class _Members:
    users: frozenset[str]
    expires: float


class UserGroups:
    """A cache of the members of ``groups`` (user group IDs), read with ``client``."""

    def __init__(
        self,
        client: WebClient,
        groups: Iterable[str],
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._groups = tuple(sorted(set(groups)))
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, _Members] = {}
        self._lock = threading.Lock()
        self.lookups = 0

    @property
    def groups(self) -> tuple[str, ...]:
        return self._groups

    def groups_of(self, user_id: str) -> frozenset[str]:
        """The configured groups ``user_id`` is a member of."""
        return frozenset(g for g in self._groups if user_id in self.members(g))

    def members(self, group_id: str) -> frozenset[str]:
        """The members of one group, from the cache when fresh."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(group_id)
        if cached is not None and cached.expires > now:
            return cached.users
        users, ttl = self._fetch(group_id)
        with self._lock:
            self._cache[group_id] = _Members(users, now + ttl)
        return users

    def _fetch(self, group_id: str) -> tuple[frozenset[str], float]:
        self.lookups += 1
        try:
            response = self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else "?"
            log.warning("usergroups.users.list %s failed: %s; treating as empty", group_id, code)
            return frozenset(), FAILURE_TTL
        except (SlackClientError, OSError) as error:
            log.warning("usergroups.users.list %s failed: %s; treating as empty", group_id, error)
            return frozenset(), FAILURE_TTL
        users = response.get("users") or []
        return frozenset(str(u) for u in users), self._ttl

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
