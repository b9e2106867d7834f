"""What each stand-in clip shows and says, worked out from the scenario alone.

Planning is pure: no programs run and nothing is written, so the content of a clip (its
length, captions, cue markers, labels and voices) can be checked without ffmpeg. The
renderer turns a plan into pixels and sound.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from simulator.agency.profile import AgencyProfile, default_profile
from simulator.scenario.loader import LoadedScenario
from simulator.scenario.model import (
    MEDIA_REF,
    Line,
    Scenario,
    Segment,
    Variant,
    absolute_reference,
)
from simulator.standins.tools import StandinError

OFFICER = "officer"
NARRATOR = "narrator"
# Played after the last out-point so the final frame is not the file's last one.
TAIL_S = 0.5
# A clip no segment uses still gets a file, so the variant's map is complete.
UNUSED_CLIP_S = 5.0
CAPTION_HOLD_S = 3.0
CUE_SHOW_S = 2.0
# espeak-ng voices for the profile's language ids. A language with no voice here is read
# by the English voice rather than left silent: the trainee should hear that someone talks.
ESPEAK_LANGUAGES = {
    "en": "en-us", "es": "es-419", "zh": "cmn", "vi": "vi", "ar": "ar", "ko": "ko",
    "ru": "ru", "fr": "fr-fr", "ht": "ht",
}
# Signed or no speech: captions only.
UNSPOKEN_LANGUAGES = frozenset({"asl", "none"})
GENDER_VOICES = {"man": "+m3", "woman": "+f3", "nonbinary": "+m5"}
# Attributes in the order a portrayal reads best; others follow in profile order.
PORTRAYAL_ORDER = ("race", "gender", "age_band", "language", "disability")
NOT_PORTRAYED = frozenset({"none_visible"})


@dataclass(frozen=True)
class Figure:
    """A person drawn on screen, with the words that say who they portray."""

    person_id: str
    heading: str
    portrayal: str


@dataclass(frozen=True)
class Caption:
    """Rows of script shown together, from ``start`` to ``end`` clip seconds."""

    start: float
    end: float
    rows: tuple[str, ...]
    speakers: tuple[str, ...]


@dataclass(frozen=True)
class CueMark:
    """The on-screen marker of a cue."""

    start: float
    end: float
    text: str
    person: str | None


@dataclass(frozen=True)
class Title:
    """A segment's title, shown while the clip plays that segment."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Speech:
    """A spoken line: what, in which espeak-ng voice, from which clip second."""

    at: float
    text: str
    voice: str


@dataclass(frozen=True)
class Backdrop:
    """The plain background standing in for the location."""

    wall: str
    floor: str
    words: str


@dataclass(frozen=True)
class ClipPlan:
    """Everything one clip file shows and says."""

    scenario_id: str
    variant_id: str
    clip_id: str
    path: str
    duration: float
    backdrop: Backdrop
    footer: str
    figures: tuple[Figure, ...]
    titles: tuple[Title, ...]
    captions: tuple[Caption, ...]
    cues: tuple[CueMark, ...]
    speech: tuple[Speech, ...]


def plan_scenario(loaded: LoadedScenario,
                  profile: AgencyProfile | None = None) -> list[ClipPlan]:
    """A plan for every clip every variant maps, in variant then clip order.

    Clips named from the media index (``media:…``) or by absolute path (under a media root)
    are an agency's own footage and are left out; the scenario model keeps every other path
    inside the scenario folder. Raises
    StandinError for one file mapped for two different clips (a stand-in shows one
    variant's people, so each needs its own file).
    """
    profile = profile or default_profile()
    scenario = loaded.scenario
    plans: list[ClipPlan] = []
    owners: dict[str, str] = {}
    for variant in scenario.variants:
        for clip_id, relative in variant.clips.items():
            if relative.startswith(MEDIA_REF) or absolute_reference(relative):
                continue
            path = "/".join(p for p in PurePosixPath(relative.replace("\\", "/")).parts
                            if p != ".")
            key = path.lower()  # two names differing in case are one file on some disks
            if key in owners:
                raise StandinError(
                    f"{relative} is mapped by both {owners[key]} and {variant.id}/{clip_id}; "
                    "a stand-in clip shows one variant's people, so give each its own file")
            owners[key] = f"{variant.id}/{clip_id}"
            plans.append(plan_clip(scenario, variant, clip_id, path, profile))
    return plans


def plans_fingerprint(plans: list[ClipPlan]) -> str:
    """A hash of everything the plans render: it changes when any text or time does."""
    payload = json.dumps([asdict(p) for p in plans], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def plan_clip(scenario: Scenario, variant: Variant, clip_id: str, path: str,
              profile: AgencyProfile) -> ClipPlan:
    """The plan of one clip of one variant."""
    segments = sorted((s for s in scenario.segments if s.clip == clip_id),
                      key=lambda s: (s.in_point, s.out_point))
    last_out = max((s.out_point for s in segments), default=UNUSED_CLIP_S - TAIL_S)
    duration = _ms(last_out + TAIL_S)
    people = {p.id for p in scenario.people}

    titles: list[Title] = []
    captions: list[Caption] = []
    cues: list[CueMark] = []
    speech: list[Speech] = []
    for segment in segments:
        # The last segment's texts run on over the tail rather than vanish half a second early.
        end = duration if segment.out_point == last_out else segment.out_point
        titles.append(Title(_ms(segment.in_point), _ms(end), segment.title or segment.id))
        captions.extend(_captions(segment, end, variant, people))
        speech.extend(_speech(segment, end, variant, people))
        for cue in segment.cues:
            text = cue.description or profile.cue_kinds.get(cue.kind, cue.kind)
            at = segment.in_point + cue.at
            cues.append(CueMark(_ms(at), _ms(min(at + CUE_SHOW_S, end)), f"CUE: {text}",
                                cue.person))
    if not segments:
        titles.append(Title(0.0, duration, f"(clip {clip_id} is used by no segment)"))

    label = f" ({variant.label})" if variant.label else ""
    backdrop = _backdrop(scenario.setting)
    footer = f"{scenario.id} · variant {variant.id}{label} · clip {clip_id}"
    if backdrop.words:
        footer += f" · {backdrop.words}"
    return ClipPlan(
        scenario_id=scenario.id, variant_id=variant.id, clip_id=clip_id, path=path,
        duration=duration, backdrop=backdrop, footer=footer,
        figures=tuple(Figure(p.id, _heading(p.id, p.role, profile),
                             "portrayed as: " + portrayal(variant, p.id, profile))
                      for p in scenario.people),
        titles=_no_overlap(titles),
        captions=tuple(captions),
        cues=tuple(_cues_in_turn(cues)),
        speech=tuple(sorted(speech, key=lambda s: s.at)),
    )


def portrayal(variant: Variant, person_id: str, profile: AgencyProfile) -> str:
    """How a variant portrays someone, in words: "Black or African American man, 35-44, ..."."""
    demographics = variant.demographics_of(person_id)

    def labels(attribute: str) -> list[str]:
        spec = profile.demographics.get(attribute)
        values = [v for v in demographics.get(attribute, []) if v not in NOT_PORTRAYED]
        return [spec.values.get(v, v) if spec else v for v in values]

    race = " and ".join(labels("race"))
    gender = " or ".join(_lower_first(g) for g in labels("gender"))
    parts = [" ".join(p for p in (race, gender) if p)]
    parts += labels("age_band") + labels("language")
    parts += [_lower_first(d) for d in labels("disability")]
    others = [a for a in profile.demographics if a not in PORTRAYAL_ORDER]
    others += sorted(a for a in demographics if a not in profile.demographics
                     and a not in PORTRAYAL_ORDER)
    for attribute in others:
        values = labels(attribute)
        if values:
            spec = profile.demographics.get(attribute)
            parts.append(f"{_lower_first(spec.label) if spec else attribute}: "
                         f"{', '.join(values)}")
    text = ", ".join(p for p in parts if p)
    return text or "not recorded"


def speaker_name(who: str) -> str:
    """A person id as a name on screen: ``resident`` -> ``Resident``."""
    words = who.replace("_", " ").replace("-", " ").split()
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def voice_for(who: str, variant: Variant, people: set[str]) -> str | None:
    """The espeak-ng voice for a speaker as this variant portrays them; None: not spoken.

    The voice follows language and gender only, so variants that differ in race alone
    sound exactly alike.
    """
    if who not in people:
        return "en-us+m1" if who == OFFICER else "en-gb+m2" if who == NARRATOR else "en-us"
    demographics = variant.demographics_of(who)
    language = (demographics.get("language") or ["en"])[0]
    if language in UNSPOKEN_LANGUAGES:
        return None
    gender = (demographics.get("gender") or [""])[0]
    return ESPEAK_LANGUAGES.get(language, "en-us") + GENDER_VOICES.get(gender, "")


def _captions(segment: Segment, end: float, variant: Variant,
              people: set[str]) -> list[Caption]:
    groups: dict[float, list[Line]] = {}
    for line in sorted(segment.lines, key=lambda line: line.at):
        groups.setdefault(line.at, []).append(line)
    times = sorted(groups)
    captions = []
    for i, at in enumerate(times):
        start = segment.in_point + at
        until = segment.in_point + times[i + 1] if i + 1 < len(times) else start + CAPTION_HOLD_S
        until = min(until, end)
        if until <= start:
            continue
        rows: list[str] = []
        for line in groups[at]:
            name = speaker_name(line.who)
            if line.who in people and "asl" in variant.demographics_of(line.who).get(
                    "language", []):
                name += " (signing)"
            if line.says:
                rows.append(f"{name}: {line.says}")
                if line.does:
                    rows.append(f"[{line.does}]")
            else:
                rows.append(f"{name}: [{line.does}]")
        captions.append(Caption(_ms(start), _ms(until), tuple(rows),
                                tuple(dict.fromkeys(line.who for line in groups[at]))))
    return captions


def _speech(segment: Segment, end: float, variant: Variant,
            people: set[str]) -> list[Speech]:
    spoken = []
    for line in segment.lines:
        at = segment.in_point + line.at
        voice = voice_for(line.who, variant, people)
        if line.says and voice is not None and at < end:
            spoken.append(Speech(_ms(at), line.says, voice))
    return spoken


def _cues_in_turn(cues: list[CueMark]) -> list[CueMark]:
    # Markers never stack: each gives way to the next cue.
    ordered = sorted(cues, key=lambda c: c.start)
    out = []
    for i, cue in enumerate(ordered):
        end = min(cue.end, ordered[i + 1].start) if i + 1 < len(ordered) else cue.end
        if end > cue.start:
            out.append(CueMark(cue.start, end, cue.text, cue.person))
    return out


def _no_overlap(titles: list[Title]) -> tuple[Title, ...]:
    out = []
    for i, title in enumerate(titles):
        end = min(title.end, titles[i + 1].start) if i + 1 < len(titles) else title.end
        if end > title.start:
            out.append(Title(title.start, end, title.text))
    return tuple(out)


def _heading(person_id: str, role: str, profile: AgencyProfile) -> str:
    role_label = profile.person_roles.get(role, role)
    return f"{speaker_name(person_id).upper()} ({_lower_first(role_label)})"


def _lower_first(text: str) -> str:
    # Keep acronyms ("ASL", "CEW") as written.
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


# Wall and floor colours by light; dark for night, sky-like for outdoors. Never a skin tone.
_BACKDROPS = {
    ("indoor", "day"): ("0x7a7266", "0x564f46"),
    ("indoor", "night"): ("0x3a3944", "0x27262e"),
    ("outdoor", "day"): ("0x7c9bb3", "0x5f6650"),
    ("outdoor", "night"): ("0x1e2838", "0x22252a"),
}
_OUTDOOR_WORDS = ("outdoor", "outside", "street", "road", "park", "yard", "parking", "highway",
                  "sidewalk", "field", "lot", "bridge", "car", "vehicle")
_NIGHT_WORDS = ("night", "dark", "dusk", "dawn", "evening", "dim")


def _backdrop(setting: dict[str, str]) -> Backdrop:
    light = setting.get("light", "").lower()
    location = setting.get("location", "").lower()
    place = "outdoor" if any(w in f"{light} {location}" for w in _OUTDOOR_WORDS) else "indoor"
    if "indoor" in light or "inside" in light:
        place = "indoor"
    time = "night" if any(w in light for w in _NIGHT_WORDS) else "day"
    wall, floor = _BACKDROPS[(place, time)]
    words = ", ".join(setting[k].replace("_", " ") for k in ("location", "light")
                      if setting.get(k))
    return Backdrop(wall, floor, words)


def _ms(seconds: float) -> float:
    return round(seconds, 3)
