"""What in a range's settings cannot work: checked when set up, and before every class."""

from __future__ import annotations

from collections.abc import Mapping

from simulator.agency import AgencyProfile
from simulator.devices.settings import CameraSettings, TriggerSettings, WeaponSettings
from simulator.devices.shots import seen_patterns


def pulse_clash(first: str | None, second: str | None) -> bool:
    """Whether two weapons of one colour cannot be told apart by their pulse patterns.

    No pattern reads as any flash. A camera whose frames do not line up with the pulses
    sees a pattern in several ways (an element caught by two exposures, or by neither); two
    patterns clash when any way of seeing one is a way of seeing the other.
    """
    if first is None or second is None:
        return True
    return bool(seen_patterns(first) & seen_patterns(second))


def range_problems(camera: CameraSettings | None, weapons: Mapping[str, WeaponSettings],
                   triggers: Mapping[str, TriggerSettings], devices: Mapping[str, int],
                   profile: AgencyProfile) -> list[tuple[str, str]]:
    """Each problem as (the settings field at fault, what is wrong and what to do)."""
    problems: list[tuple[str, str]] = []
    if weapons and camera is None:
        problems.append(("weapons", "laser weapons are set up but no camera watches the "
                                    "screen; add a `camera:` section"))
    for name, weapon in weapons.items():
        if profile.force_option(weapon.force_option) is None:
            known = ", ".join(o.id for o in profile.force_options)
            problems.append((f"weapons.{name}.force_option",
                             f"`{weapon.force_option}` is not a force option of the agency "
                             f"profile; use one of: {known}"))
    for name, trigger in triggers.items():
        if trigger.action is not None and trigger.action not in profile.action_ids():
            problems.append((f"triggers.{name}.action",
                             f"`{trigger.action}` is neither a force option nor a verbal "
                             "tactic of the agency profile"))
    if camera is not None:
        for name, weapon in weapons.items():
            if camera.infrared and weapon.colour != "infrared":
                problems.append((
                    f"weapons.{name}.colour",
                    f"`{name}` is {weapon.colour} but the camera has an infrared-pass filter "
                    "(`camera.infrared: true`), which a red or green laser does not get "
                    "through: fit an infrared laser, or use a camera without the filter and "
                    "set `infrared: false`"))
            elif not camera.infrared and weapon.colour == "infrared":
                problems.append((
                    f"weapons.{name}.colour",
                    f"`{name}` is infrared but the camera is set up for visible light "
                    "(`camera.infrared: false`) and would not see it among the projected "
                    "picture: use a camera with an infrared-pass filter and set "
                    "`infrared: true`, or fit a red or green laser"))
    for name in sorted(set(weapons) & set(triggers)):
        problems.append((
            f"triggers.{name}",
            f"`{name}` is the name of a weapon and of a trigger, which would share one "
            "`devices` entry and be told apart in no record; rename the trigger"))
    for name in dict.fromkeys([*weapons, *triggers]):  # a name both use: said once
        if name not in devices:
            problems.append(("devices", f"no trainee holds `{name}`, so its inputs would be "
                                        f"no one's; add `{name}: 1` (the first trainee)"))
    names = sorted(weapons)
    for index, first in enumerate(names):
        for second in names[index + 1:]:
            a, b = weapons[first], weapons[second]
            if a.colour == b.colour and pulse_clash(a.pulse, b.pulse):
                problems.append((
                    f"weapons.{second}.pulse",
                    f"`{first}` and `{second}` are both {a.colour} and their pulse patterns "
                    f"({a.pulse or 'none'}, {b.pulse or 'none'}) cannot tell them apart; give "
                    "each a pattern the camera cannot mistake for the other's, such as 1 "
                    "and 101"))
    return problems
