"""Question and answer text normalisation and tokenisation (TensorFlow ops).

One implementation, used by the pipeline (validation and the tf.Transform
preprocessing function) and by the exported serving signatures, so a question
is tokenised identically at training and at serving time:

  lower-case (Unicode aware) -> every run of characters that is not a letter,
  combining mark, digit or apostrophe becomes one space -> strip -> split on spaces.

Answers get the same normalisation and are re-joined with single spaces, so
"Loading", " loading " and "LOADING!" are one answer.
"""

import tensorflow as tf

from features import schema

# Letters, combining marks (Devanagari vowel signs, decomposed accents), digits
# and apostrophes make words; everything else separates them.
_SEPARATOR_PATTERN = r"[^\p{L}\p{M}\p{N}']+"


def normalize(text):
    """String tensor -> same-shape string tensor, normalised and space-joined."""
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, _SEPARATOR_PATTERN, " ")
    return tf.strings.strip(text)


def tokenize(text, max_tokens=None):
    """String tensor [N] -> RaggedTensor [N, None] of tokens, truncated to max_tokens."""
    tokens = tf.strings.split(normalize(text))
    if max_tokens is not None:
        tokens = tokens[:, :max_tokens]
    return tokens


def normalize_answer(text):
    """String tensor -> normalised answer strings (same rule as questions)."""
    return normalize(text)


def tokenize_python(questions, max_tokens=None):
    """List of str -> list of lists of str tokens (runs the TF ops eagerly)."""
    if not questions:
        return []
    tokens = tokenize(tf.constant(list(questions), dtype=tf.string), max_tokens)
    return [[token.decode("utf-8") for token in row] for row in tokens.to_list()]


def normalize_answers_python(answers):
    """List of str -> list of normalised answer str (runs the TF ops eagerly)."""
    if not answers:
        return []
    values = normalize_answer(tf.constant(list(answers), dtype=tf.string)).numpy()
    return [value.decode("utf-8") for value in values]


def question_type(tokens, annotated_type=None):
    """The annotation's question type if given, else the first word's category."""
    if annotated_type:
        return str(annotated_type)
    if tokens and tokens[0] in schema.QUESTION_TYPE_WORDS:
        return tokens[0]
    return schema.OTHER_QUESTION_TYPE
