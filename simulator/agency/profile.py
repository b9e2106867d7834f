"""The agency profile: every controlled vocabulary in one place.

Scenarios, runs and audits name things by short ids (``black_african_american``,
``oc_spray``); the profile says what each id means, which ids exist, and for force options
their rank and whether the audit counts them as force. An agency extends the built-in
profile with a file of its own; it can add and relabel, never remove, so records made
under one profile stay readable under its extensions.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.documents import DocumentError, Problem, load_document, parse_document
from simulator.names import inert, name_problem

PROFILE_SCHEMA_VERSION = 1
PROFILE_MIN_SCHEMA_VERSION = 1

# An attribute with several values (a person portrayed as both Black and Hispanic) is
# analysed as one combined group whose name joins the ids in vocabulary order with this
# separator, e.g. ``black_african_american+hispanic_latino``. Keeping the combination,
# rather than folding it into "multiracial", loses nothing; a report may fold later.
COMBINED_SEPARATOR = "+"

# The built-in hit zones, for a profile written before profiles had them; the default
# profile file lists the same.
BUILT_IN_HIT_ZONES = {"head": "Head", "torso": "Torso", "arms": "Arms", "legs": "Legs"}

# A verbal phrase is a short spoken command, not a script: longer texts are mistakes (a
# paragraph pasted into the wrong field) and would only slow the recogniser down.
MAX_PHRASE_CHARACTERS = 80


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DemographicAttribute(_Strict):
    """One attribute of a person shown, such as race/ethnicity, and its allowed values."""

    label: str
    multiple: bool = False
    source: str = ""
    values: dict[str, str]


class ForceOption(_Strict):
    """One option of the agency's force continuum."""

    id: str
    label: str
    rank: int = Field(ge=0)
    counts_as_force: bool


class AgencyProfile(_Strict):
    """All vocabularies a scenario and a record are checked against."""

    schema_version: int = PROFILE_SCHEMA_VERSION
    name: str
    demographics: dict[str, DemographicAttribute]
    force_options: list[ForceOption]
    verbal_tactics: dict[str, str]
    focus_areas: dict[str, str]
    pledge_areas: dict[str, str]
    cue_kinds: dict[str, str]
    person_roles: dict[str, str]
    outcome_kinds: dict[str, str]
    # Parts of a person on screen a shot can hit, named by a scenario's `hit_zones`.
    hit_zones: dict[str, str] = Field(default_factory=lambda: dict(BUILT_IN_HIT_ZONES))
    # What an officer says for each verbal tactic, per language code (the `language`
    # demographic's values), as the speech recogniser listens for it (docs/vocabulary.md).
    verbal_phrases: dict[str, dict[str, list[str]]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_force_ids(self) -> AgencyProfile:
        ids = [o.id for o in self.force_options]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"force option ids must be unique; repeated: {', '.join(duplicates)}")
        clash = sorted(set(ids) & set(self.verbal_tactics))
        if clash:
            raise ValueError(
                f"ids used both as force option and verbal tactic: {', '.join(clash)}"
            )
        problems = verbal_phrase_problems(self.verbal_phrases, self.verbal_tactics,
                                          self.languages())
        if problems:
            raise ValueError("; ".join(f"{field}: {message}" for field, message in problems))
        return self

    def languages(self) -> set[str]:
        """The language codes phrases may be given in: the `language` demographic's values."""
        spec = self.demographics.get("language")
        return set(spec.values) if spec is not None else set()

    def force_option(self, option_id: str) -> ForceOption | None:
        """The force option with this id, or None."""
        return next((o for o in self.force_options if o.id == option_id), None)

    def demographic_label(self, attribute: str, value: str) -> str:
        """How the agency words a demographic value (the id itself if it has no label)."""
        spec = self.demographics.get(attribute)
        return spec.values.get(value, value) if spec is not None else value

    def action_ids(self) -> set[str]:
        """Every id a decision may name: force options and verbal tactics."""
        return {o.id for o in self.force_options} | set(self.verbal_tactics)

    def extended_by(self, extension: dict[str, Any], source: str) -> AgencyProfile:
        """Merge an agency's additions into this profile; built-in ids cannot go."""
        merged = self.model_dump()
        problems: list[Problem] = []
        for key, value in extension.items():
            if key in {"schema_version"}:
                continue
            if key == "name":
                merged["name"] = value
            elif key == "force_options" and isinstance(value, list):
                by_id = {o["id"]: o for o in merged["force_options"]}
                for option in value:
                    if isinstance(option, dict) and "id" in option:
                        by_id[option["id"]] = {**by_id.get(option["id"], {}), **option}
                merged["force_options"] = sorted(by_id.values(), key=lambda o: o.get("rank", 0))
            elif key == "verbal_phrases" and isinstance(value, dict):
                merged["verbal_phrases"] = _added_phrases(merged["verbal_phrases"], value)
            elif key == "demographics" and isinstance(value, dict):
                for attribute, spec in value.items():
                    base = merged["demographics"].get(attribute, {"values": {}})
                    if isinstance(spec, dict):
                        values = {**base.get("values", {}), **spec.get("values", {})}
                        merged["demographics"][attribute] = {**base, **spec, "values": values}
            elif key in merged and isinstance(merged[key], dict) and isinstance(value, dict):
                merged[key] = {**merged[key], **value}
            else:
                problems.append(Problem(f"unknown or malformed section `{key}`", source, field=key))
        if problems:
            raise DocumentError(source, problems)
        languages = {str(code) for code in merged["demographics"].get("language", {})
                     .get("values", {})}
        # Checked as the agency wrote them, so that a field names the place in its file.
        problems = [Problem(message, source, field=field) for field, message in
                    verbal_phrase_problems(extension.get("verbal_phrases", {}),
                                           merged["verbal_tactics"], languages)]
        if problems:
            raise DocumentError(source, problems)
        try:
            profile = AgencyProfile.model_validate(merged)
        except ValidationError as exc:
            raise DocumentError(source, [
                Problem(str(e["msg"]), source, field=".".join(str(p) for p in e["loc"]))
                for e in exc.errors()]) from None
        for option in self.force_options:
            changed = profile.force_option(option.id)
            if changed is not None and (changed.rank, changed.counts_as_force) != (
                    option.rank, option.counts_as_force):
                raise DocumentError(source, [Problem(
                    f"`{option.id}` is built in with rank {option.rank} and counts_as_force "
                    f"{str(option.counts_as_force).lower()}; an extension may relabel it but "
                    "not change those (audits rely on them). Add a new option instead",
                    source, field="force_options")])
        for key, attribute in self.demographics.items():
            if profile.demographics[key].multiple != attribute.multiple:
                raise DocumentError(source, [Problem(
                    f"whether `{key}` takes several values is built in; it cannot change",
                    source, field=f"demographics.{key}.multiple")])
        if set(profile.pledge_areas) != set(self.pledge_areas):
            raise DocumentError(source, [Problem(
                "the IACP pledge areas are fixed; relabel them but do not add any",
                source, field="pledge_areas")])
        return profile


def verbal_phrase_problems(
    phrases: Any, tactics: Any, languages: set[str]
) -> list[tuple[str, str]]:
    """What is wrong with a profile's ``verbal_phrases``: (field, message) pairs.

    Every tactic id must be a verbal tactic, every language code a value of the `language`
    demographic, and every phrase a short text of plain characters.
    """
    if not isinstance(phrases, dict):
        return [("verbal_phrases", "must map verbal tactic ids to languages to phrases")]
    found: list[tuple[str, str]] = []
    for tactic, by_language in phrases.items():
        where = f"verbal_phrases.{inert(str(tactic))}"
        if not isinstance(tactics, dict) or tactic not in tactics:
            known = ", ".join(sorted(tactics)) if isinstance(tactics, dict) else ""
            found.append((where, f"`{inert(str(tactic))}` is not a verbal tactic; use one of "
                                 f"{known}, or add it under `verbal_tactics` first"))
            continue
        if not isinstance(by_language, dict):
            found.append((where, "must map language codes (such as `en`) to lists of phrases"))
            continue
        for language, texts in by_language.items():
            at = f"{where}.{inert(str(language))}"
            if language not in languages:
                found.append((at, f"`{inert(str(language))}` is not a language code of this "
                                  f"profile; use one of {', '.join(sorted(languages))}, or add "
                                  "it under `demographics.language.values` first"))
                continue
            if not isinstance(texts, list) or not texts:
                found.append((at, "must be a list of phrases, such as [\"drop the knife\"]"))
                continue
            found.extend((f"{at}[{index}]", message) for index, text in enumerate(texts)
                         if (message := _phrase_text_problem(text)) is not None)
    return found


def _phrase_text_problem(text: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "a phrase must be text with at least one word"
    problem = name_problem(text)
    if problem is not None:
        return problem.replace("no name may hold", "no phrase may hold")
    if len(text) > MAX_PHRASE_CHARACTERS:
        return (f"a phrase is at most {MAX_PHRASE_CHARACTERS} characters (this one has "
                f"{len(text)}); list each command as a phrase of its own")
    if not any(character.isalpha() for character in text):
        return "a phrase must hold at least one word"
    return None


def _added_phrases(base: dict[str, Any], extension: dict[str, Any]) -> dict[str, Any]:
    # An agency adds phrases and languages; the built-in phrases stay (like every built-in
    # id), so an extension's list for a language is appended, not put in place.
    merged = {tactic: dict(languages) for tactic, languages in base.items()}
    for tactic, languages in extension.items():
        if not isinstance(languages, dict):
            merged[tactic] = languages
            continue
        into = merged.setdefault(tactic, {})
        for language, texts in languages.items():
            before = into.get(language, [])
            if isinstance(texts, list) and isinstance(before, list):
                into[language] = before + [t for t in texts if t not in before]
            else:
                into[language] = texts
    return merged


def combined_group(profile: AgencyProfile, attribute: str, values: list[str]) -> str:
    """The group name a person falls in for ``attribute``, by the several-values rule."""
    if not values:
        return "unrecorded"
    spec = profile.demographics.get(attribute)
    order = list(spec.values) if spec else []
    ranked = sorted(set(values), key=lambda v: (order.index(v) if v in order else len(order), v))
    return COMBINED_SEPARATOR.join(ranked)


@cache
def default_profile() -> AgencyProfile:
    """The built-in profile (United States vocabularies)."""
    text = resources.files("simulator.agency").joinpath("default_profile.yaml").read_text("utf-8")
    return parse_document(text, AgencyProfile, source="default_profile.yaml", kind="profile",
                          current=PROFILE_SCHEMA_VERSION, minimum=PROFILE_MIN_SCHEMA_VERSION)


class _Extension(BaseModel):
    model_config = ConfigDict(extra="allow")
    schema_version: int


def load_profile(path: Path | None) -> AgencyProfile:
    """The default profile, extended by the agency file at ``path`` if one is given."""
    base = default_profile()
    if path is None:
        return base
    extension, _ = load_document(path, _Extension, kind="agency profile",
                                 current=PROFILE_SCHEMA_VERSION,
                                 minimum=PROFILE_MIN_SCHEMA_VERSION)
    try:
        return base.extended_by(extension.model_dump(), str(path))
    except ValueError as exc:
        if isinstance(exc, DocumentError):
            raise
        raise DocumentError(str(path), [Problem(str(exc), str(path))]) from None
