package engine_test

// clockRules reads the as-of in every way a rule can: each measure the
// wake-up analysis knows (days and months since and until times and
// dates, the as-of date and time, year and month, days_in and
// days_in_previous), in a zone with daylight saving, some of them where
// it cannot analyse them, with stickiness and cooldowns.
const clockRules = `
ruleset: clocks
timezone: America/New_York
facts:
  seen_at: time?
  renew_at: time?
  born_on: date?
  joined_on: date?
  score: integer
segmentations:
  - name: tenure
    segments:
      - name: fresh
        when: joined_on != nil && days_since(joined_on) < 30
        min_stay: 3d
      - name: festive
        when: month(as_of) == 12 && year(as_of) >= 2024 && score > 5
      - name: renewing
        when: renew_at != nil && days_between(as_of, renew_at) <= 14 && as_of < renew_at
        downgrade_grace: 5d
      - name: dormant
        when: seen_at == nil || months_since(seen_at) >= 2
        downgrade_grace: 36h
      - name: born
        when: born_on != nil && date(as_of) >= born_on && months_between(born_on, date(as_of)) < 12
      - name: odd
        when: score == 3 && days_since(coalesce(seen_at, renew_at)) * 2 > 10
      - name: steady
        fallback: true
        min_stay: 2d
  - name: band
    segments:
      - name: long
        when: days_in_previous("tenure") > 40 || days_in("tenure") >= 20
        min_stay: 7d
      - name: soon
        when: born_on != nil && days_between(date(as_of), born_on) in 0..3
      - name: short
        fallback: true
actions:
  - name: nudge
    when: segment.band == "long" && score > 2
    cooldown: 10d
  - name: remind
    when: entered("tenure", "renewing")
  - name: ping
    when: score == 7 && string(as_of) != ""
    cooldown: 2d
  - name: hello
    when: score == 9 && date(as_of) == date("2024-07-04")
    cooldown: 1d
    payload:
      days: =days_in("tenure")
`

// careRules has coverage targets, contact limits and a holdout.
const careRules = `
ruleset: care
timezone: Asia/Shanghai
limits:
  per_customer: 2 per 7d
  per_channel:
    phone: 1 per 14d
facts:
  spend_12m: number
  orders_12m: integer
segmentations:
  - name: value_tier
    segments:
      - name: vip
        when: spend_12m >= 50000
        coverage: {every: 28d, by: [vip_care_visit, account_review], counts: [reached, converted]}
        downgrade_grace: 10d
      - name: regular
        fallback: true
        coverage: {every: 90d, by: [account_review], counts: [reached]}
  - name: lifecycle
    segments:
      - name: churned
        when: orders_12m == 0
      - name: active
        fallback: true
actions:
  - name: vip_care_visit
    when: overdue("value_tier")
    cooldown: 7d
    priority: 1
    channel: phone
    outcomes: [reached, no_answer, converted, declined]
    payload:
      days_since_covered: =days_since_covered("value_tier")
  - name: account_review
    when: entered("value_tier", "vip") || (days_since_covered("value_tier") > 60 && orders_12m > 3)
    priority: 2
    cooldown: 5d
    channel: email
    outcomes: [reached, converted]
  - name: winback_offer
    when: entered("lifecycle", "churned")
    priority: 3
    channel: email
    holdout: 10%
    cooldown: 30d
`
