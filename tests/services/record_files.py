"""CSV files of every record family for two subjects (S01-101 at S01, S02-101 at S02).

Infusion on 2026-03-02 (day 0); the values follow the packaged protocol (DL1, fludarabine 25 and
cyclophosphamide 250 mg/m2 on days -5..-3) and are eligible by every criterion (as
``service_support.ELIGIBLE``). ``BAD`` holds, per family, a file whose listed lines are each
refused, with the field named.
"""

from __future__ import annotations

_SCREEN_COLS = (
    "subject_id,site_id,screening_date,age,sex,indication,ecog,cldn18_ihc_pct,"
    "cldn18_ihc_intensity,prior_lines,refractory_to_standard_therapy,measurable_disease,"
    "life_expectancy_weeks,anc_1e9_l,platelets_1e9_l,hemoglobin_g_dl,"
    "creatinine_clearance_ml_min,alt_x_uln,bilirubin_x_uln"
)
_ELIGIBLE = "55,F,gastric,1,60.0,2,2,true,true,20,2.0,150.0,11.0,80.0,1.0,1.0"


def _lymphodepletion() -> str:
    lines = ["subject_id,agent,dose,unit,day,administered_date"]
    for subject in ("S01-101", "S02-101"):
        for day, date in ((-5, "2026-02-25"), (-4, "2026-02-26"), (-3, "2026-02-27")):
            lines.append(f"{subject},fludarabine,25,mg/m2,{day},{date}")
            lines.append(f"{subject},cyclophosphamide,250,mg/m2,{day},{date}")
    return "\n".join(lines) + "\n"


#: Family -> a good CSV file, in the order an import applies the families.
GOOD: dict[str, str] = {
    "screening": (
        f"{_SCREEN_COLS}\nS01-101,S01,2026-02-10,{_ELIGIBLE}\nS02-101,S02,2026-02-10,{_ELIGIBLE}\n"
    ),
    "enrolment": "subject_id,enrolled_date\nS01-101,2026-02-20\nS02-101,2026-02-20\n",
    "dose_assignment": "subject_id,dose_level\nS01-101,DL1\nS02-101,DL1\n",
    "lymphodepletion": _lymphodepletion(),
    "infusion": (
        "subject_id,infused_at,actual_cells,product_lot\n"
        "S01-101,2026-03-02T10:00:00+00:00,2.5e8,LOT-1\n"
        "S02-101,2026-03-02T10:00:00+00:00,2.5e8,\n"
    ),
    "adverse_events": (
        "subject_id,term,grade,onset_at,resolved_at,serious,attribution,alternative_cause,"
        "outcome,verbatim\n"
        "S01-101,Cytokine release syndrome,1,2026-03-03T09:00:00+00:00,,false,definite,,,fever\n"
        "S02-101,Nausea,1,2026-03-04,2026-03-06,false,unlikely,,recovered,\n"
    ),
    "grade_changes": (
        "subject_id,term,onset_at,grade,changed_at,outcome\n"
        "S01-101,Cytokine release syndrome,2026-03-03T09:00:00+00:00,2,"
        "2026-03-04T09:00:00+00:00,\n"
        "S01-101,Cytokine release syndrome,2026-03-03T09:00:00+00:00,0,"
        "2026-03-06T09:00:00+00:00,recovered\n"
    ),
    "crs_icans_days": (
        "subject_id,observed_date,temperature_c,hypotension,oxygen_device,oxygen_flow_l_min,"
        "ice_orientation,ice_naming,ice_commands,ice_writing,ice_attention,tocilizumab\n"
        "S01-101,2026-03-03,38.6,false,room_air,,4,3,1,1,1,false\n"
        "S01-101,2026-03-04,38.3,false,nasal_cannula,4.0,4,3,1,1,1,true\n"
    ),
    "tumour_assessments": (
        "subject_id,assessment_date,method,lesion_id,category,organ,is_lymph_node,"
        "diameter_mm,status\n"
        "S01-101,2026-02-22,CT,T1,target,liver,false,40,present\n"
        "S01-101,2026-02-22,CT,T2,target,lung,false,20,present\n"
        "S01-101,2026-04-13,CT,T1,target,liver,false,25,present\n"
        "S01-101,2026-04-13,CT,T2,target,lung,false,15,present\n"
    ),
    "labs": (
        "subject_id,collected_at,lbtestcd,value,unit,lln,uln\n"
        "S01-101,2026-03-05T08:00:00+00:00,NEUT,0.4,10^9/L,1.8,7.5\n"
        "S02-101,2026-03-05,PLAT,60,10^9/L,150,400\n"
    ),
    "kinetics": (
        "subject_id,collected_at,unit,value,lloq,assay\n"
        "S01-101,2026-03-09T08:00:00+00:00,copies/ug gDNA,52000,50,qPCR\n"
        "S01-101,2026-03-30,copies/ug gDNA,,50,qPCR\n"
    ),
    "ada": (
        "subject_id,sample_date,screen,confirmed,titer\n"
        "S01-101,2026-03-30,positive,true,40\n"
        "S02-101,2026-03-30,negative,,\n"
    ),
    "phenotype": (
        "subject_id,sample_date,panel,marker,value\n"
        "S01-101,2026-03-09,memory,cd4_cd8_ratio,1.4\n"
        "S01-101,2026-03-09,memory,tscm_pct,12.5\n"
    ),
    "follow_up": (
        "subject_id,contact_date,status,death_date,death_cause\n"
        "S01-101,2026-06-01,alive,,\n"
        "S02-101,2026-07-30,dead,2026-07-20,disease progression\n"
    ),
    "subsequent_therapy": ("subject_id,therapy,start_date\nS01-101,paclitaxel,2026-06-15\n"),
    "withdrawal": ("subject_id,withdrawn_date,reason\nS01-101,2026-07-01,consent withdrawn\n"),
}

#: Family -> (a file with several bad rows, the (line, field) of every error it must report).
BAD: dict[str, tuple[str, list[tuple[int, str]]]] = {
    "screening": (
        f"{_SCREEN_COLS}\n"
        f"S01-102,S09,2026-02-10,{_ELIGIBLE}\n"
        f"S01-103,S01,2026-02-10,{_ELIGIBLE.replace('55,F', '155,F')}\n"
        f"S01-104,S01,2026-02-10,{_ELIGIBLE}\n"
        f"S01-104,S01,2026-02-11,{_ELIGIBLE}\n",
        [(2, "site_id"), (3, "age"), (5, "subject_id")],
    ),
    "enrolment": (
        "subject_id,enrolled_date\nS01-101,2026-02-20\nS09-999,2026-02-20\nS02-101,yesterday\n",
        [(3, "subject_id"), (4, "enrolled_date")],
    ),
    "dose_assignment": (
        "subject_id,dose_level\nS01-101,DL1\nS02-101,DL9\nS09-999,DL1\n",
        [(3, "dose_level"), (4, "subject_id")],
    ),
    "lymphodepletion": (
        "subject_id,agent,dose,unit,day,administered_date\n"
        "S01-101,fludarabine,25,mg/m2,-5,2026-02-25\n"
        "S01-101,fludarabine,-25,mg/m2,-4,2026-02-26\n"
        "S01-101,fludarabine,25,mg/m2,3,2026-02-27\n",
        [(3, "dose"), (4, "day")],
    ),
    "infusion": (
        "subject_id,infused_at,actual_cells,product_lot\n"
        "S01-101,2026-03-02T10:00:00,2.5e8,\n"
        "S02-101,2026-03-02T10:00:00+00:00,0,\n",
        [(2, "infused_at"), (3, "actual_cells")],
    ),
    "adverse_events": (
        "subject_id,term,grade,onset_at,attribution\n"
        "S01-101,Not a CTCAE term,2,2026-03-03,definite\n"
        "S01-101,Nausea,7,2026-03-03,definite\n"
        "S02-101,Nausea,1,2026-03-03,because\n",
        [(2, "term"), (3, "grade"), (4, "attribution")],
    ),
    "grade_changes": (
        "subject_id,term,onset_at,grade,changed_at\n"
        "S01-101,Nausea,2026-03-03T09:00:00+00:00,2,2026-03-04\n"
        "S01-101,Cytokine release syndrome,2026-03-03T09:00:00+00:00,2,2026-03-01\n",
        [(2, "term"), (3, "changed_at")],
    ),
    "crs_icans_days": (
        "subject_id,observed_date,temperature_c\nS01-101,2026-03-03,60\nS01-101,2026-02-01,38\n",
        [(2, "temperature_c"), (3, "observed_date")],
    ),
    "tumour_assessments": (
        "subject_id,assessment_date,lesion_id,category,organ,diameter_mm\n"
        "S01-101,2026-02-22,T1,target,liver,-4\n"
        "S01-101,2026-02-22,T2,bystander,lung,20\n",
        [(2, "diameter_mm"), (3, "category")],
    ),
    "labs": (
        "subject_id,collected_at,lbtestcd,value,unit,lln,uln\n"
        "S01-101,2026-03-05,NEUT,-1,10^9/L,1.8,7.5\n"
        "S09-999,2026-03-05,NEUT,1,10^9/L,1.8,7.5\n"
        "S01-101,2026-01-01,NEUT,1,10^9/L,1.8,7.5\n",
        [(2, "value"), (3, "subject_id"), (4, "collected_at")],
    ),
    "kinetics": (
        "subject_id,collected_at,unit,value,lloq\n"
        "S01-101,2026-03-09,copies/ug gDNA,10,0\n"
        "S01-101,2026-03-09,furlongs,10,50\n",
        [(2, "lloq"), (3, "unit")],
    ),
    "ada": (
        "subject_id,sample_date,screen\nS01-101,2026-03-30,maybe\nS09-999,2026-03-30,negative\n",
        [(2, "screen"), (3, "subject_id")],
    ),
    "phenotype": (
        "subject_id,sample_date,panel,marker,value\n"
        "S01-101,2026-03-09,memory,tscm_pct,lots\n"
        "S09-999,2026-03-09,memory,tscm_pct,12\n",
        [(2, "value"), (3, "subject_id")],
    ),
    "follow_up": (
        "subject_id,contact_date,status\nS01-101,2026-06-01,undead\nS09-999,2026-06-01,alive\n",
        [(2, "status"), (3, "subject_id")],
    ),
    "subsequent_therapy": (
        "subject_id,therapy,start_date\nS01-101,,2026-06-15\nS09-999,paclitaxel,2026-06-15\n",
        [(2, "therapy"), (3, "subject_id")],
    ),
    "withdrawal": (
        "subject_id,withdrawn_date,reason\nS01-101,2026-07-01,\nS09-999,2026-07-01,moved\n",
        [(2, "reason"), (3, "subject_id")],
    ),
}
