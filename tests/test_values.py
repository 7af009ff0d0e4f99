"""app/values.py: the small readers every normaliser shares (IPs, address lists, booleans, domains)."""

from app.values import clean_ip, domain_of, is_true, split_addresses


def test_clean_ip_shapes():
    assert clean_ip("1.2.3.4:63070") == "1.2.3.4"
    assert clean_ip("[2001:db8::1]:443") == "2001:db8::1"
    assert clean_ip("::ffff:10.0.0.1") == "10.0.0.1"
    assert clean_ip("[::ffff:10.0.0.1]:80") == "10.0.0.1"
    assert clean_ip("2001:db8::1") == "2001:db8::1"
    assert clean_ip("FE80::") == "FE80::"
    assert clean_ip("localhost:8080") == "localhost"


def test_split_addresses():
    assert split_addresses("smtp:a@x.com; b@y.com") == ["a@x.com", "b@y.com"]
    assert split_addresses(['"c@z.com"', "SMTP:a@x.com", "a@x.com"]) == ["c@z.com", "a@x.com"]
    assert split_addresses("John Doe [SMTP:john@x.com]") == ["john@x.com"]
    assert split_addresses("") == []
    assert domain_of("Bob@Evil.COM.") == "evil.com" and domain_of("Manager Name") == ""


def test_is_true():
    assert is_true("True") and is_true("$true") and is_true(["1"])
    assert not is_true("False") and not is_true("") and not is_true(None)


def test_lowered_answers_as_lower_for_the_text_asked_again_and_for_a_new_one():
    from app.values import lowered
    first = "Set-Mailbox -Identity CEO"
    assert lowered(first) == "set-mailbox -identity ceo" and lowered(first) is lowered(first)
    second = "".join(["Get-", "DATE"])   # another object, asked right after
    assert lowered(second) == "get-date"
    assert lowered(first) == "set-mailbox -identity ceo"
