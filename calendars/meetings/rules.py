"""The recording rules: whether a customer's policy records a meeting, and which rule said so.

Pure: given the policy's rules and what the mirror knows of a meeting (`Facts`, never its
attendees), `decide` answers with the rule that decided, in words for the meeting's page and
a missed meeting's outcome. A person's override comes first, then the rules in a fixed order
(the first that refuses decides), as Recall.ai's recording preferences do.
"""

from __future__ import annotations

from dataclasses import dataclass

# How many words or phrases a customer may list to skip titles by, and their length.
MAX_WORDS = 50
MAX_WORD_CHARS = 100
# How many domains make a customer's inside, and their length (a DNS name's limit).
MAX_DOMAINS = 50
MAX_DOMAIN_CHARS = 253

ALWAYS, NEVER = "always", "never"
EXTERNAL, INTERNAL, BOTH = "external", "internal", "both"


@dataclass(frozen=True)
class Rules:
    """A customer's recording rules (BotPolicy's fields), under "record every meeting"."""

    customer: str
    attendees: str = BOTH
    organizer_only: bool = False
    one_off_only: bool = False
    confirmed_only: bool = False
    skipped_title_words: tuple[str, ...] = ()

    @property
    def needs_attendees(self) -> bool:
        return self.attendees != BOTH

    @property
    def needs_organizer(self) -> bool:
        return self.organizer_only


@dataclass(frozen=True)
class Facts:
    """What the rules read of a meeting. None: the calendar has not said (yet)."""

    title: str
    is_recurring: bool = False
    is_tentative: bool = False
    is_organizer: bool | None = None
    has_external_attendees: bool | None = None
    override: str = ""
    override_by: str = ""


@dataclass(frozen=True)
class Decision:
    record: bool
    reason: str


def decide(rules: Rules, facts: Facts) -> Decision:
    """Whether the policy records the meeting, and the rule that decided, in words."""
    who = facts.override_by or "a person"
    if facts.override == ALWAYS:
        return Decision(True, f"Recorded: {who} set it to always be recorded.")
    if facts.override == NEVER:
        return Decision(False, f"Not recorded: {who} set it to never be recorded.")
    name = rules.customer
    if rules.confirmed_only and facts.is_tentative:
        return _no(f"tentative meeting, {name} records confirmed meetings only")
    if rules.organizer_only and not facts.is_organizer:
        if facts.is_organizer is None:
            return _no(f"its organizer is not known yet, {name} records only what it organizes")
        return _no(f"the account does not organize it, {name} records only what it organizes")
    if rules.one_off_only and facts.is_recurring:
        return _no(f"recurring meeting, {name} records one-off meetings only")
    word = skipped_word(rules.skipped_title_words, facts.title)
    if word is not None:
        return _no(f"its title contains “{word}”, which {name} skips")
    attendees = _attendees(rules, facts)
    if attendees is not None:
        return attendees
    return Decision(True, f"Recorded: {name} records {_what(rules)}.")


def _attendees(rules: Rules, facts: Facts) -> Decision | None:
    """The attendee rule's refusal, if it refuses."""
    name = rules.customer
    if not rules.needs_attendees:
        return None
    if facts.has_external_attendees is None:
        return _no(f"its attendees are not known yet, {name} records {rules.attendees} ones only")
    if rules.attendees == EXTERNAL and not facts.has_external_attendees:
        return _no(f"internal meeting, {name} records external meetings only")
    if rules.attendees == INTERNAL and facts.has_external_attendees:
        return _no(f"external meeting, {name} records internal meetings only")
    return None


def _what(rules: Rules) -> str:
    """What the rules record, for a meeting they record."""
    parts = {EXTERNAL: ["external meetings"], INTERNAL: ["internal meetings"]}.get(
        rules.attendees, ["every meeting with a meeting URL"]
    )
    if rules.organizer_only:
        parts.append("that its accounts organize")
    if rules.confirmed_only:
        parts.append("confirmed")
    if rules.one_off_only:
        parts.append("one-off")
    if rules.skipped_title_words:
        parts.append("but the titles it skips")
    return ", ".join(parts)


def _no(why: str) -> Decision:
    return Decision(False, f"Not recorded: {why}.")


def undecided(rules: Rules, facts: Facts) -> bool:
    """Whether the rules need a fact the calendar has not given yet (learning it may change
    the decision)."""
    if facts.override:
        return False
    return (rules.needs_organizer and facts.is_organizer is None) or (
        rules.needs_attendees and facts.has_external_attendees is None
    )


def skipped_word(words: tuple[str, ...], title: str) -> str | None:
    """The first of `words` the title contains, in any case."""
    folded = title.casefold()
    return next((word for word in words if word.casefold() in folded), None)


def lines(text: str) -> list[str]:
    """The non-blank lines of a policy's list field, stripped, duplicates dropped."""
    seen: dict[str, None] = {}
    for line in text.splitlines():
        item = line.strip()
        if item:
            seen.setdefault(item, None)
    return list(seen)


def domains(text: str) -> list[str]:
    """The domains a policy lists, one a line, in lower case, without "@" or a final dot."""
    return list(dict.fromkeys(line.lower().lstrip("@").rstrip(".") for line in lines(text)))


def is_outside(domain: str, inside: frozenset[str]) -> bool:
    """Whether `domain` is none of the customer's domains nor one of their subdomains."""
    return not any(domain == own or domain.endswith(f".{own}") for own in inside)
