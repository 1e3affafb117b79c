"""Who is asking: the key's name, role and optional party."""

from __future__ import annotations

from dataclasses import dataclass

from domain.vocabulary import Role, role_may


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    party: str | None = None

    def may(self, permission: str) -> bool:
        return role_may(self.role, permission)
