"""An agency's vocabularies: demographics, force options, verbal tactics and the rest."""

from simulator.agency.profile import (
    PROFILE_SCHEMA_VERSION,
    AgencyProfile,
    DemographicAttribute,
    ForceOption,
    combined_group,
    default_profile,
    load_profile,
)

__all__ = [
    "PROFILE_SCHEMA_VERSION",
    "AgencyProfile",
    "DemographicAttribute",
    "ForceOption",
    "combined_group",
    "default_profile",
    "load_profile",
]
