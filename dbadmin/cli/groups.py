"""A command group with a default subcommand (Click ``DefaultGroup`` style, as sqlite-utils and
click-default-group do it): ``dbadmin backup`` is ``dbadmin backup create``, ``dbadmin
slow-queries --json`` is ``dbadmin slow-queries top --json``.

The group takes its options from its default command (declared once, on that command), so
``--help`` lists them and Click parses and checks them at group level. With no subcommand the
default command parses the same arguments itself; with one, the options given before it reach it
when it declares them the same way, and are a usage error otherwise
(:func:`dbadmin.cli.common.carry_group_options`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from typer.core import TyperGroup

from dbadmin.cli.common import carry_group_options, parse_error_exit
from dbadmin.errors import DbadminError


class DefaultGroup(TyperGroup):
    """Subclass it (or use :func:`default_group`) naming ``default_command``; ``ignored``: group
    options accepted before a subcommand that lacks them and dropped (``backup --yes list``)."""

    default_command: ClassVar[str] = ""
    ignored: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **attrs: Any) -> None:
        attrs["invoke_without_command"] = True
        attrs["no_args_is_help"] = False
        super().__init__(**attrs)
        default = self.commands[self.default_command]
        own = {param.name for param in self.params}
        self.params = [*self.params, *(p for p in default.params if p.name not in own)]

    def _key(self, ctx: Any) -> str:
        return f"dbadmin.default_group.args:{ctx.command_path}"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta[self._key(ctx)] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        named = [*ctx._protected_args, *ctx.args]  # Click keeps the subcommand's name apart
        try:
            if not named:
                default = self.commands[self.default_command]
                with ctx:
                    args = ctx.meta.pop(self._key(ctx), [])
                    sub = default.make_context(self.default_command, args, parent=ctx)
                    with sub:
                        return sub.command.invoke(sub)
            name = self.resolve_command(ctx, list(named))[0]
            carry_group_options(
                ctx, name=name, default_command=self.default_command, ignored=self.ignored
            )
        except DbadminError as exc:
            raise parse_error_exit(ctx, exc) from None
        return super().invoke(ctx)


def default_group(command: str, *, ignored: frozenset[str] = frozenset()) -> type[DefaultGroup]:
    """A :class:`DefaultGroup` class running ``command`` when no subcommand is named."""
    return type(
        f"DefaultGroup_{command}", (DefaultGroup,), {"default_command": command, "ignored": ignored}
    )
