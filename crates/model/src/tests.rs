use super::*;

fn check<T: FromStr<Err = InvalidValue> + fmt::Debug>(input: &str, ok: bool) {
    let got = input.parse::<T>();
    assert_eq!(got.is_ok(), ok, "{input:?}: {got:?}");
}

#[test]
fn git_sha() {
    let good = "0123456789abcdef0123456789abcdef01234567";
    check::<GitSha>(good, true);
    for bad in [
        "",
        "0123456",
        &good[..39],
        &format!("{good}0"),
        &good.to_uppercase(),
        "g123456789abcdef0123456789abcdef01234567",
        "$(rm -rf /)456789abcdef0123456789abcdef0",
        "0123456789abcdef0123456789abcdef0123456;",
        "0123456789abcdef0123456789abcdef0123456\n",
        "0123456789abcdef0123456789abcdef012345б",
    ] {
        check::<GitSha>(bad, false);
    }
}

#[test]
fn refusal_escapes_the_input() {
    let err = "abc\n\u{1b}[31m".parse::<GitSha>().expect_err("refused");
    assert_eq!(
        err.to_string(),
        r#"invalid git SHA "abc\n\u{1b}[31m": expected a full git SHA of exactly 40 lowercase hex characters"#
    );
}

#[test]
fn image_tag() {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    check::<ImageTag>(sha, true);
    check::<ImageTag>(&format!("{sha}-dirty"), true);
    check::<ImageTag>(&format!("{sha}-clean"), false);
    check::<ImageTag>("latest", false);
    let tag: ImageTag = format!("{sha}-dirty").parse().expect("tag");
    assert!(tag.is_dirty());
    assert_eq!(tag.to_string(), format!("{sha}-dirty"));
}

#[test]
fn digest_and_repository() {
    check::<Digest>(&format!("sha256:{}", "a".repeat(64)), true);
    check::<Digest>(&format!("sha256:{}", "a".repeat(63)), false);
    check::<Digest>(&format!("md5:{}", "a".repeat(64)), false);
    check::<Repository>("paktech-app", true);
    check::<Repository>("127.0.0.1:5000/team/paktech-app", true);
    check::<Repository>("PakTech", false);
    check::<Repository>("a//b", false);
    check::<Repository>("-a", false);
    check::<Repository>("paktech:latest", false);
}

#[test]
fn app_name() {
    check::<AppName>("paktech-gateway", true);
    for bad in ["", "Paktech", "a/b", "-a", "a-", "a.b"] {
        check::<AppName>(bad, false);
    }
}

#[test]
fn env_name() {
    for good in ["dev", "staging", "prod", "eu-west-2"] {
        check::<EnvName>(good, true);
    }
    for bad in [
        "", "../prod", "prod/", "Prod", "pr od", "-dev", "dev-", "1dev", "dev\n", "dev.prod",
    ] {
        check::<EnvName>(bad, false);
    }
}
