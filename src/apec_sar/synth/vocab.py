"""Vocabulary of the synthetic extract: sites and their conventions, drugs, AE terms, codes.

The generator knows the *true* (controlled) value of every cell and renders it the way a site
would have typed it. The cleaning pipeline must not import this module: it has its own mapping
tables (data files), so tests can compare the two independently.
"""

from __future__ import annotations

N_SITES = 8

# --- site conventions -------------------------------------------------------------------
# Date formats: iso "2021-03-05", slash "2021/3/5", dot "2021.03.05", cjk "2021年3月5日",
# excel "44260" (days since 1899-12-30, a date column exported from Excel as a number).
DATE_FORMATS = ("iso", "slash", "dot", "cjk", "excel")
SITE_DATE_FORMAT = {1: "iso", 2: "iso", 3: "slash", 4: "dot", 5: "cjk", 6: "excel", 7: "iso", 8: "slash"}

# Sex coding: canonical M/F; sites 3 and 5 write 男/女, sites 6 and 8 write 1/2 (1 = male).
SITE_SEX_CODING = {1: "MF", 2: "MF", 3: "CJK", 4: "MF", 5: "CJK", 6: "12", 7: "MF", 8: "12"}
SEX_CODES = {"MF": {"M": "M", "F": "F"}, "CJK": {"M": "男", "F": "女"}, "12": {"M": "1", "F": "2"}}

# Yes/no coding (smoking, alcohol, resection, ...): canonical Y/N; CJK sites 是/否; 1/0 at 6, 8.
SITE_YN_CODING = {1: "YN", 2: "YN", 3: "CJK", 4: "YN", 5: "CJK", 6: "10", 7: "YN", 8: "10"}
YN_CODES = {"YN": {"Y": "Y", "N": "N"}, "CJK": {"Y": "是", "N": "否"}, "10": {"Y": "1", "N": "0"}}

# Drug-name style a site mostly uses (others still appear at random): INN, Chinese, brand, code.
SITE_DRUG_STYLE = {1: "inn", 2: "cjk", 3: "cjk", 4: "inn", 5: "cjk", 6: "brand", 7: "code", 8: "cjk"}

# Lab units: canonical SI (g/L, 10^9/L). Sites 4 and 6 report HGB and ALB in g/dL; site 5
# reports WBC, NEUT and LYMPH in cells/uL.
LAB_TESTS = ("WBC", "NEUT", "LYMPH", "HGB", "PLT", "ALB")
LAB_SI_UNIT = {"WBC": "10^9/L", "NEUT": "10^9/L", "LYMPH": "10^9/L", "HGB": "g/L", "PLT": "10^9/L", "ALB": "g/L"}
SITE_LAB_UNIT = {
    4: {"HGB": ("g/dL", 0.1), "ALB": ("g/dL", 0.1)},
    6: {"HGB": ("g/dL", 0.1), "ALB": ("g/dL", 0.1)},
    5: {"WBC": ("cells/uL", 1000.0), "NEUT": ("cells/uL", 1000.0), "LYMPH": ("cells/uL", 1000.0)},
}
LAB_DECIMALS = {"WBC": 2, "NEUT": 2, "LYMPH": 2, "HGB": 0, "PLT": 0, "ALB": 1}

# --- drugs ------------------------------------------------------------------------------
# canonical INN -> (Chinese name, brand, development code)
DRUGS = {
    "anlotinib": ("安罗替尼", "福可维", "AL3818"),
    "camrelizumab": ("卡瑞利珠单抗", "艾瑞卡", "SHR-1210"),
    "sintilimab": ("信迪利单抗", "达伯舒", "IBI308"),
    "tislelizumab": ("替雷利珠单抗", "百泽安", "BGB-A317"),
    "toripalimab": ("特瑞普利单抗", "拓益", "JS001"),
    "pembrolizumab": ("帕博利珠单抗", "可瑞达", "MK-3475"),
    "nivolumab": ("纳武利尤单抗", "欧狄沃", "ONO-4538"),
    "paclitaxel": ("紫杉醇", "泰素", "PTX"),
    "nab-paclitaxel": ("白蛋白紫杉醇", "凯素", "ABX"),
    "docetaxel": ("多西他赛", "多帕菲", "DTX"),
    "cisplatin": ("顺铂", "诺欣", "DDP"),
    "nedaplatin": ("奈达铂", "捷佰舒", "NDP"),
    "carboplatin": ("卡铂", "伯尔定", "CBP"),
    "fluorouracil": ("氟尿嘧啶", "5-FU", "5-FU"),
    "capecitabine": ("卡培他滨", "希罗达", "CAP"),
    "tegafur": ("替吉奥", "S-1", "S-1"),
    "irinotecan": ("伊立替康", "开普拓", "CPT-11"),
    "apatinib": ("阿帕替尼", "艾坦", "YN968D1"),
}
DRUG_STYLES = ("inn", "cjk", "brand", "code")
PD1_AGENTS = ("camrelizumab", "sintilimab", "tislelizumab", "toripalimab", "pembrolizumab", "nivolumab")
PD1_SHARE = (0.40, 0.20, 0.20, 0.10, 0.05, 0.05)  # synthetic_calibration.md E1 (assumption)
PD1_DOSE_MG = {"camrelizumab": 200, "sintilimab": 200, "tislelizumab": 200, "toripalimab": 240,
               "pembrolizumab": 200, "nivolumab": 360}
PRIOR_ICI = ("camrelizumab", "sintilimab", "tislelizumab", "toripalimab", "pembrolizumab", "nivolumab")
CHEMO_BACKBONES = (
    ("paclitaxel", "cisplatin"), ("nab-paclitaxel", "cisplatin"), ("docetaxel", "nedaplatin"),
    ("paclitaxel", "carboplatin"), ("fluorouracil", "cisplatin"), ("tegafur",), ("irinotecan",),
    ("capecitabine",), ("docetaxel",),
)
SUBSEQUENT_THERAPIES = (("docetaxel",), ("irinotecan",), ("tegafur",), ("paclitaxel", "nedaplatin"),
                        ("radiotherapy",), ("apatinib",), ("tislelizumab", "docetaxel"))
SUBSEQUENT_SHARE = (0.22, 0.16, 0.16, 0.14, 0.14, 0.10, 0.08)
ANLOTINIB_START_DOSE = (12, 10, 8)
ANLOTINIB_DOSE_SHARE = (0.55, 0.40, 0.05)  # E3 (assumption)

# --- adverse events ---------------------------------------------------------------------
# CTCAE v5 term -> (system organ class, on the term list of possible immune-mediated AEs?, verbatim
# variants as sites typed them). The term list (sensitivity definition of an irAE) follows the
# pooled pembrolizumab categories (post_ici_definitions 2) plus RCCEP, camrelizumab's
# immune-related skin reaction. RCCEP has no CTCAE v5 term of its own (it is coded "Skin and
# subcutaneous tissue disorders - Other, specify: RCCEP"); it is named as such.
AE_TERMS = {
    "Anemia": ("Blood and lymphatic system disorders", False, ("贫血", "anemia", "Anaemia", "Hb decreased", "血红蛋白降低")),
    "Lymphocyte count decreased": ("Investigations", False, ("淋巴细胞减少", "lymphopenia", "Lymphopenia", "LYMPH count decreased", "淋巴细胞计数降低")),
    "Hypertension": ("Vascular disorders", False, ("高血压", "hypertension", "BP elevated", "血压升高")),
    "Fatigue": ("General disorders and administration site conditions", False, ("乏力", "fatigue", "tiredness", "疲劳")),
    "Palmar-plantar erythrodysesthesia syndrome": ("Skin and subcutaneous tissue disorders", False, ("手足综合征", "hand-foot syndrome", "HFSR", "手足皮肤反应")),
    "Proteinuria": ("Renal and urinary disorders", False, ("蛋白尿", "proteinuria", "urine protein +", "尿蛋白阳性")),
    "Hypothyroidism": ("Endocrine disorders", True, ("甲状腺功能减退", "hypothyroidism", "甲减", "TSH elevated")),
    "Alanine aminotransferase increased": ("Investigations", False, ("谷丙转氨酶升高", "ALT increased", "ALT elevation", "转氨酶升高(ALT)")),
    "Aspartate aminotransferase increased": ("Investigations", False, ("谷草转氨酶升高", "AST increased", "AST elevation")),
    "Diarrhea": ("Gastrointestinal disorders", False, ("腹泻", "diarrhoea", "Diarrhea", "loose stools")),
    "Anorexia": ("Metabolism and nutrition disorders", False, ("食欲下降", "anorexia", "poor appetite", "纳差")),
    "Epistaxis": ("Respiratory, thoracic and mediastinal disorders", False, ("鼻出血", "epistaxis", "nose bleed")),
    "Reactive cutaneous capillary endothelial proliferation": ("Skin and subcutaneous tissue disorders", True, ("反应性皮肤毛细血管增生症", "RCCEP", "capillary hemangioma", "皮肤毛细血管增生")),
    "Pneumonitis": ("Respiratory, thoracic and mediastinal disorders", True, ("免疫相关性肺炎", "pneumonitis", "immune pneumonitis", "checkpoint pneumonitis")),
    # not treatment related (disease or intercurrent)
    "Dysphagia": ("Gastrointestinal disorders", False, ("吞咽困难", "dysphagia", "difficulty swallowing")),
    "Cough": ("Respiratory, thoracic and mediastinal disorders", False, ("咳嗽", "cough")),
    "Constipation": ("Gastrointestinal disorders", False, ("便秘", "constipation")),
    "Back pain": ("Musculoskeletal and connective tissue disorders", False, ("背痛", "back pain")),
}
# Patients with the term among the 29 analysed (calibrated mode; any grade, related unless
# listed in UNRELATED_TERMS). Anaemia and lymphopenia are the two most frequent (publication);
# the rest follow synthetic_calibration.md section G (assumptions).
AE_CALIBRATED_COUNTS = {
    "Anemia": 17, "Lymphocyte count decreased": 15, "Hypertension": 11, "Fatigue": 10,
    "Palmar-plantar erythrodysesthesia syndrome": 8, "Proteinuria": 7, "Hypothyroidism": 7,
    "Alanine aminotransferase increased": 5, "Aspartate aminotransferase increased": 4,
    "Diarrhea": 7, "Anorexia": 6, "Epistaxis": 4,
    "Reactive cutaneous capillary endothelial proliferation": 3, "Pneumonitis": 1,
    "Dysphagia": 5, "Cough": 4, "Constipation": 4, "Back pain": 2,
}
UNRELATED_TERMS = ("Dysphagia", "Cough", "Constipation", "Back pain")
RCCEP_TERM = "Reactive cutaneous capillary endothelial proliferation"
RELATIONSHIPS = ("Related", "Possibly related", "Unlikely related", "Not related")

# --- other codes ------------------------------------------------------------------------
HISTOLOGIES = ("Squamous cell carcinoma", "Adenocarcinoma", "Squamous cell carcinoma with small cell component")
PRIMARY_SITES = ("Cervical", "Upper thoracic", "Middle thoracic", "Lower thoracic")
PRIMARY_SITE_SHARE = (0.05, 0.12, 0.53, 0.30)  # D6 (assumption)
DISEASE_STATUSES = ("Recurrent after resection", "Unresectable locally advanced", "Metastatic")
MET_SITES = ("Distant lymph nodes", "Lung", "Liver", "Bone", "Pleura", "Adrenal", "Brain")
MET_SHARE = (0.57, 0.33, 0.20, 0.15, 0.08, 0.05, 0.0)  # D8 (assumption); brain set by criteria
BRAIN_STATUS = ("None", "Asymptomatic", "Symptomatic")
PRIOR_RESPONSES = ("CR", "PR", "SD", "PD", "NE")
# Resistance to the prior ICI (SITC; post_ici_definitions 1), drawn per patient so that the
# ICI line's dates, best response and stop reason produce it: primary, secondary (acquired),
# progression after discontinuation (> 84 days after the last ICI dose), unclassifiable.
# Calibrated counts among the 29 analysed (assumption, synthetic_calibration D10: ~40 % benefit
# >= 6 months, ~60 % PD or short benefit); the share in scale mode.
RESISTANCE = ("primary", "secondary", "after_discontinuation", "unclassifiable")
RESISTANCE_CALIBRATED = (14, 9, 3, 3)
RESISTANCE_SHARE = (0.48, 0.31, 0.11, 0.10)
# PD-L1 CPS when tested: < 1, 1-9, >= 10 (assumption)
PDL1_TESTED_SHARE = 0.22
PDL1_GROUP_SHARE = (0.25, 0.40, 0.35)
RESPONSES = ("CR", "PR", "SD", "PD", "NE")
NONTARGET_STATUS = ("Non-CR/Non-PD", "PD", "NE", "Not applicable")

# Screening exclusions (calibrated mode): first failing criterion -> count among 20 excluded.
# The criteria are the registry's (inclusion 1-5, exclusion 1-6) plus two from the publication
# (Zhu et al., Ann Med 2025: progressed on a prior ICI; treatment started July 2020 - March 2022).
# ``ici_not_progressed``: an ICI was given but stopped for toxicity with SD/PR and the next line
# (chemotherapy) followed without a progression on or after the ICI.
EXCLUSION_COUNTS = {
    "ecog_gt2": 2,              # inclusion 2: ECOG PS 0-2
    "not_escc": 2,              # inclusion 3: squamous histology
    "no_prior_line": 2,         # inclusion 4: progression after >= 1 prior systemic line
    "no_prior_ici": 1,          # publication: progressed on prior ICI (no ICI at all)
    "ici_not_progressed": 2,    # publication: progressed on prior ICI (ICI stopped for toxicity)
    "no_combination": 3,        # inclusion 5: received anlotinib + PD-1 inhibitor
    "outside_window": 2,        # publication: treatment start July 2020 - March 2022
    "prior_anlotinib": 2,       # exclusion 1
    "small_cell_component": 1,  # exclusion 2
    "other_malignancy": 1,      # exclusion 3
    "symptomatic_brain": 1,     # exclusion 4
    "unstable_systemic": 1,     # exclusion 5
}
EXCLUSION_REASONS = tuple(EXCLUSION_COUNTS)

SURNAMES = ("Zhao", "Qian", "Sun", "Li", "Zhou", "Wu", "Zheng", "Wang", "Feng", "Chen", "Chu", "Wei",
            "Jiang", "Shen", "Han", "Yang", "Zhu", "Qin", "You", "Xu", "He", "Lü", "Shi", "Zhang")
GIVEN = ("Wei", "Fang", "Min", "Jing", "Lei", "Jun", "Yong", "Yan", "Jie", "Tao", "Ming", "Chao",
         "Xiu", "Hua", "Ping", "Gang", "Hui", "Bo", "Qiang", "Lin")
