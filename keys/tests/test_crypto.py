import math
import re

from keys import crypto


def test_generated_key_has_tag_prefix_secret_and_checksum():
    prefix, key = crypto.key_generate()
    assert re.fullmatch(r"tg-[A-Za-z0-9]{8}\.[A-Za-z0-9]{38}", key)
    assert key.startswith(f"tg-{prefix}.")
    assert crypto.key_parse(key) == crypto.ParsedKey(prefix=prefix, plaintext=key)


def test_keys_are_unique_and_carry_enough_randomness():
    keys = {crypto.key_generate()[1] for _ in range(500)}
    assert len(keys) == 500
    prefixes = {key[3:11] for key in keys}
    assert len(prefixes) == 500  # the public prefix itself tells keys apart
    secrets_ = [crypto.KEY_RE.match(key)["secret"] for key in keys]
    alphabet = set("".join(secrets_))
    assert len(alphabet) == 62  # 500 keys of 32 characters use every base62 character
    assert min(len(secret) for secret in secrets_) * math.log2(len(alphabet)) >= 160


def test_a_single_mistyped_character_fails_the_checksum():
    _, key = crypto.key_generate()
    position = 20
    replacement = "A" if key[position] != "A" else "B"
    typo = key[:position] + replacement + key[position + 1 :]
    assert crypto.key_parse(typo) is None


def test_malformed_keys_are_refused():
    _, key = crypto.key_generate()
    for bad in ["", "tg-", key[:-1], key + "x", key.replace("tg-", "sk-"), " " + key, "Bearer " + key]:
        assert crypto.key_parse(bad) is None, bad


def test_hash_and_verify():
    _, key = crypto.key_generate()
    hashed = crypto.key_hash(key)
    assert len(hashed) == 64 and key not in hashed
    assert crypto.key_verify(key, hashed)
    assert not crypto.key_verify(crypto.key_generate()[1], hashed)
