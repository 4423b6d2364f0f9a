"""Suggests a demand's request type, top-level category, urgency and police matter from its
text, by weighted phrases an administrator edits (the `classifier_rules` table).

How a phrase is found in a text:

- Phrases of three or more characters (燃气泄漏, 拖欠工资, 有人落水) are matched as plain
  substrings: long Chinese phrases are specific enough, and substring matching does not depend
  on how a segmenter happens to cut an unfamiliar or misspelt sentence.
- Phrases of one or two characters (偷, 刀, 停水, 井盖) are too easily found inside unrelated
  words (刀 in 刀削面, 偷 in 偷偷, 火 in 火车站), so the text is segmented with jieba (precise
  mode, no HMM: dictionary words only, unknown runs stay single characters) and a short phrase
  counts only where it starts and ends on word boundaries; two-character phrases may also
  straddle one boundary (煤气 in 煤|气味), since jieba often glues them to a neighbour.
- A phrase just after a negation in the same clause (没有人受伤, 无人员伤亡) is not counted.

Each field's values are scored by the sum of the weights of the phrases found (each phrase
once). The highest positive score wins; close scores and empty matches are said in the reasons.
Police matter and critical urgency are biased to recall: a strong cue flags them, and any weaker
or negated cue still adds "疑似涉警/紧急，请话务员确认" so that the operator decides.

Why rules and no statistical model: the admins must be able to read and change why a demand was
classified, there is no labelled history to train on yet, and the labelled set in
`tests/data/labelled_demands.json` shows the rules are accurate enough to suggest (the operator
confirms every field at intake).

The package: `phrases` (the classifier from weighted phrases, no database), `store` (the
`classifier_rules` table, the shipped rules loaded, the classifier cached per revision) and
`admin` (the checked edits of the rules).
"""

from dispatch.triage.rules.admin import (
    Note,
    Phrase,
    RuleCreate,
    RuleField,
    RuleUpdate,
    Weight,
    create_rule,
    delete_rule,
    list_rules,
    update_rule,
)
from dispatch.triage.rules.phrases import (
    CLOSE,
    CRITICAL_FLAG,
    DEFAULT_TYPE,
    DOUBT,
    FIELD_NAMES,
    FIELDS,
    POLICE_FLAG,
    REASONS_PER_FIELD,
    RULES_FILE,
    URGENT_FLAG,
    Rule,
    RuleClassifier,
    normalise,
    rules_from_file,
)
from dispatch.triage.rules.store import (
    MAX_PHRASE,
    REVISION_KEY,
    ClassifierCache,
    ClassifierRule,
    SessionClassifier,
    classifier_from_db,
    load_classifier_rules,
    rules_revision,
)

__all__ = [
    "CLOSE", "CRITICAL_FLAG", "DEFAULT_TYPE", "DOUBT", "FIELDS", "FIELD_NAMES", "MAX_PHRASE",
    "POLICE_FLAG", "REASONS_PER_FIELD", "REVISION_KEY", "RULES_FILE", "URGENT_FLAG",
    "ClassifierCache", "ClassifierRule", "Note", "Phrase", "Rule", "RuleClassifier", "RuleCreate",
    "RuleField", "RuleUpdate", "SessionClassifier", "Weight", "classifier_from_db",
    "create_rule", "delete_rule", "list_rules", "load_classifier_rules", "normalise",
    "rules_from_file", "rules_revision", "update_rule",
]
