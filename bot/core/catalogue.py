"""Every text the bot shows, in English and Dutch. Keys are grouped by where they appear."""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "nl"]

CATALOGUE: dict[str, dict[Lang, str]] = {
    "source.x": {"en": "X", "nl": "X"},
    "source.facebook": {"en": "Facebook", "nl": "Facebook"},
    "source.instagram": {"en": "Instagram", "nl": "Instagram"},
    "source.mastodon": {"en": "Mastodon", "nl": "Mastodon"},
    "source.bluesky": {"en": "Bluesky", "nl": "Bluesky"},
    "source.reddit": {"en": "Reddit", "nl": "Reddit"},
    "source.forum": {"en": "Forum", "nl": "Forum"},
    "source.review": {"en": "Review", "nl": "Review"},
    "source.rss": {"en": "Web", "nl": "Web"},
    "source.email": {"en": "E-mail", "nl": "E-mail"},
    "source.other": {"en": "Other", "nl": "Overig"},
    "card.reactive": {"en": "Reactive: addressed to us", "nl": "Reactief: aan ons gericht"},
    "card.proactive": {"en": "Proactive: about us", "nl": "Proactief: over ons"},
    "card.public": {"en": "Public", "nl": "Openbaar"},
    "card.private": {"en": "Private message", "nl": "Privébericht"},
    "card.priority": {"en": "Priority: {priority}", "nl": "Prioriteit: {priority}"},
    "priority.low": {"en": "low", "nl": "laag"},
    "priority.normal": {"en": "normal", "nl": "normaal"},
    "priority.high": {"en": "high", "nl": "hoog"},
    "priority.urgent": {"en": "urgent", "nl": "urgent"},
    "card.followers": {"en": "{count} followers", "nl": "{count} volgers"},
    "card.received": {"en": "Received {when}", "nl": "Ontvangen {when}"},
    "card.sla_due": {"en": "Answer by {when}", "nl": "Beantwoorden vóór {when}"},
    "card.no_deadline": {
        "en": "No response deadline (proactive)",
        "nl": "Geen reactietermijn (proactief)",
    },
    "card.posted_before": {
        "en": ":hourglass: Posted {age} before it reached us",
        "nl": ":hourglass: Geplaatst {age} voordat het bij ons binnenkwam",
    },
    "card.late": {
        "en": ":hourglass: Posted {age} before it reached us; the response time counts from then",
        "nl": ":hourglass: Geplaatst {age} voordat het bij ons binnenkwam; de reactietijd telt"
        " vanaf dan",
    },
    "age.minutes": {"en": "{n} min", "nl": "{n} min"},
    "age.hours": {"en": "{n} h", "nl": "{n} uur"},
    "age.days": {"en": "{n} days", "nl": "{n} dagen"},
    "card.case": {"en": "Case #{id} · {department}", "nl": "Case #{id} · {department}"},
    "card.rule": {"en": "rule: {rule}", "nl": "regel: {rule}"},
    "card.default_rule": {"en": "default department", "nl": "standaardafdeling"},
    "card.mentions.one": {"en": "1 message", "nl": "1 bericht"},
    "card.mentions.other": {"en": "{count} messages", "nl": "{count} berichten"},
    "card.open_original": {"en": "Open original", "nl": "Origineel openen"},
    "card.read_rest": {"en": "Read the rest on {source}", "nl": "Lees verder op {source}"},
    "card.fallback": {
        "en": "New mention on {source} from {author}: {text}",
        "nl": "Nieuwe vermelding op {source} van {author}: {text}",
    },
    "card.tags": {"en": "tags: {tags}", "nl": "labels: {tags}"},
    "card.language": {"en": "{language}", "nl": "{language}"},
    "card.language_detected": {
        "en": "{language} (detected)",
        "nl": "{language} (herkend)",
    },
    "thread.fallback": {
        "en": "{author} wrote again: {text}",
        "nl": "{author} schreef opnieuw: {text}",
    },
    "thread.again": {"en": "{author} wrote again", "nl": "{author} schreef opnieuw"},
    "button.claim": {"en": "Claim", "nl": "Oppakken"},
    "button.unclaim": {"en": "Release", "nl": "Vrijgeven"},
    "button.take_over": {"en": "Take over", "nl": "Overnemen"},
    "button.reopen": {"en": "Reopen", "nl": "Heropenen"},
    "confirm.take_over.title": {"en": "Take over this case?", "nl": "Case overnemen?"},
    "confirm.take_over.text": {
        "en": "{owner} is working on this case. Take it over?",
        "nl": "{owner} werkt aan deze case. Wil je hem overnemen?",
    },
    "confirm.take_over.confirm": {"en": "Take over", "nl": "Overnemen"},
    "confirm.cancel": {"en": "Cancel", "nl": "Annuleren"},
    "card.owner": {"en": "Claimed by {owner} {when}", "nl": "Opgepakt door {owner} {when}"},
    "card.customer_replied": {
        "en": "*Customer replied* {when}",
        "nl": "*Klant heeft gereageerd* {when}",
    },
    "card.follow_up": {"en": "Follow-up {when}", "nl": "Opvolgen {when}"},
    "card.no_text": {
        "en": "(no text: open the original)",
        "nl": "(geen tekst: open het origineel)",
    },
    "note.follow_up": {
        "en": "{actor} will check with the customer {due}",
        "nl": "{actor} vraagt de klant {due} of het is opgelost",
    },
    "note.follow_up_solved": {
        "en": "Follow-up: {actor} says the problem is solved",
        "nl": "Opvolging: volgens {actor} is het probleem opgelost",
    },
    "note.follow_up_still_open": {
        "en": "Follow-up: still open, asking {actor} again {due}",
        "nl": "Opvolging: nog niet opgelost, {actor} krijgt de vraag opnieuw {due}",
    },
    "note.follow_up_reopen": {
        "en": "Follow-up: not solved, {actor} took the case up again",
        "nl": "Opvolging: niet opgelost, {actor} pakt de case weer op",
    },
    "follow_up.title": {"en": "Follow up", "nl": "Opvolgen"},
    "follow_up.submit": {"en": "Schedule", "nl": "Inplannen"},
    "follow_up.when": {
        "en": "When should I ask you whether it is solved?",
        "nl": "Wanneer moet ik je vragen of het is opgelost?",
    },
    "follow_up.in_1_day": {"en": "In 1 day", "nl": "Over 1 dag"},
    "follow_up.in_2_days": {"en": "In 2 days", "nl": "Over 2 dagen"},
    "follow_up.at_time": {"en": "At a set time", "nl": "Op een gekozen moment"},
    "follow_up.custom": {
        "en": "Date and time (for a set time)",
        "nl": "Datum en tijd (voor een gekozen moment)",
    },
    "follow_up.hint": {
        "en": "Outside business hours the question waits for the next business morning.",
        "nl": "Buiten kantoortijd wacht de vraag tot de volgende werkochtend.",
    },
    "follow_up.error.no_time": {"en": "Pick a date and time.", "nl": "Kies een datum en tijd."},
    "follow_up.error.past": {
        "en": "That moment has passed: pick one in the future.",
        "nl": "Dat moment is al voorbij: kies er een in de toekomst.",
    },
    "follow_up.question": {
        "en": "Is {author}'s problem solved?",
        "nl": "Is het probleem van {author} opgelost?",
    },
    "follow_up.where": {"en": "Case #{id} in {channel}", "nl": "Case #{id} in {channel}"},
    "follow_up.solved": {"en": "Solved", "nl": "Opgelost"},
    "follow_up.still_open": {"en": "Still open: ask tomorrow", "nl": "Nog open: morgen vragen"},
    "follow_up.reopen": {"en": "Not solved: reopen", "nl": "Niet opgelost: heropenen"},
    "follow_up.answered.follow_up_solved": {
        "en": ":white_check_mark: Solved, recorded by {actor}.",
        "nl": ":white_check_mark: Opgelost, vastgelegd door {actor}.",
    },
    "follow_up.answered.follow_up_still_open": {
        "en": ":hourglass: Still open: I'll ask again tomorrow.",
        "nl": ":hourglass: Nog open: ik vraag het morgen opnieuw.",
    },
    "follow_up.answered.follow_up_reopen": {
        "en": ":arrows_counterclockwise: Reopened: the case is back with {actor}.",
        "nl": ":arrows_counterclockwise: Heropend: de case ligt weer bij {actor}.",
    },
    "resolve.title": {"en": "Resolve case", "nl": "Case afhandelen"},
    "resolve.submit": {"en": "Resolve", "nl": "Afhandelen"},
    "resolve.note": {"en": "Closing note (optional)", "nl": "Afsluitende notitie (optioneel)"},
    "resolve.went_private": {
        "en": "This conversation started in public and continued in private messages.",
        "nl": "Dit gesprek begon openbaar en ging verder in privéberichten.",
    },
    "resolve.public_close": {
        "en": "Did you close the public conversation (e.g. “we sorted this out in DM”)?",
        "nl": "Heb je het openbare gesprek afgesloten (bijv. “we hebben het via DM opgelost”)?",
    },
    "resolve.yes": {"en": "Yes, closed in public", "nl": "Ja, openbaar afgesloten"},
    "resolve.no": {"en": "No", "nl": "Nee"},
    "forward.title": {"en": "Forward case", "nl": "Case doorsturen"},
    "forward.submit": {"en": "Forward", "nl": "Doorsturen"},
    "forward.what": {"en": "What do you want to do?", "nl": "Wat wil je doen?"},
    "forward.to_person": {"en": "Ask a person to handle it", "nl": "Een persoon vragen"},
    "forward.to_department": {
        "en": "Move it to another department",
        "nl": "Naar een andere afdeling verplaatsen",
    },
    "forward.person": {"en": "Person", "nl": "Persoon"},
    "forward.contacts": {"en": "Department contacts:", "nl": "Contactpersonen:"},
    "forward.department": {"en": "Department", "nl": "Afdeling"},
    "forward.note": {"en": "Note", "nl": "Toelichting"},
    "forward.error.no_person": {"en": "Choose a person.", "nl": "Kies een persoon."},
    "forward.error.yourself": {
        "en": "You cannot forward a case to yourself.",
        "nl": "Je kunt een case niet naar jezelf doorsturen.",
    },
    "forward.error.no_department": {"en": "Choose a department.", "nl": "Kies een afdeling."},
    "forward.error.not_a_person": {
        "en": "Choose a person from your workspace.",
        "nl": "Kies een persoon uit je workspace.",
    },
    "forward.error.unknown_department": {
        "en": "That department is not (or no longer) in the configuration.",
        "nl": "Die afdeling staat niet (meer) in de configuratie.",
    },
    "error.too_long": {
        "en": "At most {limit} characters, please (this is {length}).",
        "nl": "Maximaal {limit} tekens graag (dit zijn er {length}).",
    },
    "draft.error.not_a_link": {
        "en": "Give the web link (https://…) of the reply as it was published.",
        "nl": "Geef de weblink (https://…) van het antwoord zoals het is geplaatst.",
    },
    "forward.dm": {
        "en": "{by} forwarded case #{id} in {channel} to you",
        "nl": "{by} heeft case #{id} in {channel} naar je doorgestuurd",
    },
    "forward.dm_note": {"en": "*Note:* {note}", "nl": "*Toelichting:* {note}"},
    "forward.dm_due": {"en": "Please answer by {due}.", "nl": "Graag reageren vóór {due}."},
    "forward.take": {"en": "Take it", "nl": "Ik pak het op"},
    "forward.send_back": {"en": "Send back", "nl": "Terugsturen"},
    "forward.taken": {
        "en": ":white_check_mark: You took case #{id}.",
        "nl": ":white_check_mark: Je hebt case #{id} opgepakt.",
    },
    "forward.sent_back": {
        "en": ":leftwards_arrow_with_hook: You sent case #{id} back.",
        "nl": ":leftwards_arrow_with_hook: Je hebt case #{id} teruggestuurd.",
    },
    "forward.reminder": {
        "en": ":hourglass: Reminder: case #{id} in {channel} waits for your answer (due {due}).",
        "nl": ":hourglass: Herinnering: case #{id} in {channel} wacht op je reactie (vóór {due}).",
    },
    "forward.deadline": {
        "en": ":warning: {person} did not answer your forward of case #{id} in {channel} in time.",
        "nl": ":warning: {person} heeft niet op tijd gereageerd op case #{id} in {channel}.",
    },
    "card.forwarded": {
        "en": "Forwarded to {person}, answer due {when}",
        "nl": "Doorgestuurd naar {person}, reactie vóór {when}",
    },
    "card.moved": {
        "en": ":arrow_right_hook: Moved to {channel} by {actor}",
        "nl": ":arrow_right_hook: Verplaatst naar {channel} door {actor}",
    },
    "note.forward": {
        "en": "{actor} forwarded this to {to}{forward_note}",
        "nl": "{actor} heeft dit doorgestuurd naar {to}{forward_note}",
    },
    "note.take_forwarded": {"en": "{actor} took this over", "nl": "{actor} heeft dit opgepakt"},
    "note.send_back": {"en": "{actor} sent this back", "nl": "{actor} heeft dit teruggestuurd"},
    "note.move": {
        "en": "{actor} moved this here from another department{forward_note}",
        "nl": "{actor} heeft dit hierheen verplaatst{forward_note}",
    },
    "note.forward_deadline": {
        "en": ":warning: {to} did not answer the forward in time",
        "nl": ":warning: {to} heeft niet op tijd gereageerd op het doorsturen",
    },
    "error.not_forwarded_to_you": {
        "en": "This case is not (or no longer) forwarded to you.",
        "nl": "Deze case is niet (meer) naar jou doorgestuurd.",
    },
    "error.same_department": {
        "en": "The case is already in that department.",
        "nl": "De case zit al bij die afdeling.",
    },
    "draft.title": {"en": "Draft reply", "nl": "Antwoord opstellen"},
    "draft.save": {"en": "Save draft", "nl": "Concept opslaan"},
    "draft.replying": {
        "en": "Replying on {source} to {author} · at most {limit} characters",
        "nl": "Antwoord op {source} aan {author} · hooguit {limit} tekens",
    },
    "draft.tone": {"en": "Tone: {tone}", "nl": "Toon: {tone}"},
    "draft.writes": {
        "en": "The customer writes {language}",
        "nl": "De klant schrijft {language}",
    },
    "draft.writes_detected": {
        "en": "The customer writes {language} (detected)",
        "nl": "De klant schrijft {language} (herkend)",
    },
    "draft.template": {"en": "Start from a template", "nl": "Begin met een sjabloon"},
    "draft.text": {"en": "Reply", "nl": "Antwoord"},
    "draft.visibility": {"en": "Where", "nl": "Waar"},
    "draft.public": {"en": "Public reply", "nl": "Openbaar antwoord"},
    "draft.private": {"en": "Private message", "nl": "Privébericht"},
    "draft.check": {"en": "Personal data check", "nl": "Controle op persoonsgegevens"},
    "draft.override": {
        "en": "Post in public even though it contains personal data (this is logged)",
        "nl": "Toch openbaar plaatsen, ook al staan er persoonsgegevens in (wordt vastgelegd)",
    },
    "draft.error.too_long": {
        "en": "Too long for this platform: {length} of at most {limit} characters.",
        "nl": "Te lang voor dit platform: {length} van hooguit {limit} tekens.",
    },
    "draft.error.personal_data": {
        "en": "This public reply contains personal data: {found}. Answer in a private message "
        "instead, or tick the box below if it must be public.",
        "nl": "Dit openbare antwoord bevat persoonsgegevens: {found}. Antwoord liever in een "
        "privébericht, of vink hieronder aan als het toch openbaar moet.",
    },
    "draft.error.empty": {"en": "Write a reply first.", "nl": "Schrijf eerst een antwoord."},
    "pd.iban": {"en": "bank account", "nl": "rekeningnummer"},
    "pd.phone": {"en": "phone number", "nl": "telefoonnummer"},
    "pd.email": {"en": "e-mail address", "nl": "e-mailadres"},
    "pd.postcode_house_number": {"en": "address", "nl": "adres"},
    "pd.bsn": {"en": "citizen service number", "nl": "BSN"},
    "pd.card_number": {"en": "card number", "nl": "kaartnummer"},
    "draft.by": {"en": "Draft reply by {author}", "nl": "Conceptantwoord van {author}"},
    "draft.approved_by": {"en": "approved by {approver}", "nl": "goedgekeurd door {approver}"},
    "draft.sent": {"en": "sent", "nl": "verstuurd"},
    "draft.view": {"en": "view", "nl": "bekijken"},
    "draft.overridden": {
        "en": "contains personal data (posted in public on purpose)",
        "nl": "bevat persoonsgegevens (bewust openbaar)",
    },
    "draft.edit": {"en": "Edit", "nl": "Bewerken"},
    "draft.approve": {"en": "Approve", "nl": "Goedkeuren"},
    "draft.mark_sent": {"en": "Mark as sent", "nl": "Markeren als verstuurd"},
    "draft.send": {"en": "Send", "nl": "Versturen"},
    "draft.sent_title": {"en": "Reply sent", "nl": "Antwoord verstuurd"},
    "draft.sent_submit": {"en": "Save", "nl": "Opslaan"},
    "draft.sent_url": {
        "en": "Link to the published reply",
        "nl": "Link naar het geplaatste antwoord",
    },
    "draft.send_failed": {
        "en": "Sending the reply failed: {reason}. Nothing was marked as sent; try again.",
        "nl": "Versturen is mislukt: {reason}. Er is niets als verstuurd gemarkeerd; "
        "probeer opnieuw.",
    },
    "note.reply_sent": {
        "en": "{actor}'s reply was sent{url}",
        "nl": "Het antwoord van {actor} is verstuurd{url}",
    },
    "error.own_draft": {
        "en": "You wrote or edited this draft: someone else has to approve it.",
        "nl": "Je hebt aan dit concept geschreven: iemand anders moet het goedkeuren.",
    },
    "error.needs_approval": {
        "en": "This department wants a draft approved before it is sent.",
        "nl": "Deze afdeling wil dat een concept eerst wordt goedgekeurd.",
    },
    "error.no_approval_needed": {
        "en": "This department does not need approval.",
        "nl": "Deze afdeling heeft geen goedkeuring nodig.",
    },
    "error.draft_sent": {
        "en": "This draft was already sent.",
        "nl": "Dit concept is al verstuurd.",
    },
    "error.draft_sending": {
        "en": "This draft is being sent right now.",
        "nl": "Dit concept wordt nu verstuurd.",
    },
    "error.failed": {
        "en": ":warning: Something went wrong and nothing was changed. Please try again.",
        "nl": ":warning: Er ging iets mis en er is niets veranderd. Probeer het nog eens.",
    },
    "error.draft_changed": {
        "en": "The draft was edited after you saw it: read the new version, then approve that.",
        "nl": "Het concept is aangepast nadat je het zag: lees de nieuwe versie en keur die goed.",
    },
    "error.draft_approved": {
        "en": "This draft is already approved.",
        "nl": "Dit concept is al goedgekeurd.",
    },
    "card.resolved": {"en": "Resolved {when}", "nl": "Afgehandeld {when}"},
    "note.claim": {"en": "{actor} claimed this", "nl": "{actor} heeft dit opgepakt"},
    "note.unclaim": {"en": "{actor} released this", "nl": "{actor} heeft dit vrijgegeven"},
    "note.take_over": {
        "en": "{actor} took this over from {previous}",
        "nl": "{actor} heeft dit overgenomen van {previous}",
    },
    "note.resolve": {"en": "{actor} resolved this", "nl": "{actor} heeft dit afgehandeld"},
    "note.resolve_with_note": {
        "en": "{actor} resolved this: {closing_note}",
        "nl": "{actor} heeft dit afgehandeld: {closing_note}",
    },
    "note.reopen": {"en": "{actor} reopened this", "nl": "{actor} heeft dit heropend"},
    "error.already_claimed": {
        "en": "{owner} already has this case. Use *Take over* if you need it.",
        "nl": "{owner} heeft deze case al. Gebruik *Overnemen* als je hem nodig hebt.",
    },
    "error.own_case": {"en": "You already have this case.", "nl": "Je hebt deze case al."},
    "error.not_owner": {
        "en": "Only {owner} can release this case; use *Take over* to take it yourself.",
        "nl": "Alleen {owner} kan deze case vrijgeven; gebruik *Overnemen* om hem zelf te nemen.",
    },
    "error.stale_card": {
        "en": "This case changed since you looked: it is now with {owner}. Check the card again.",
        "nl": "Deze case is intussen veranderd: hij ligt nu bij {owner}. Kijk opnieuw op de kaart.",
    },
    "error.resolved": {
        "en": "This case is resolved. Reopen it first.",
        "nl": "Deze case is afgehandeld. Heropen hem eerst.",
    },
    "error.not_allowed": {
        "en": "That is not possible for a case in status “{status}”.",
        "nl": "Dat kan niet bij een case met status “{status}”.",
    },
    "error.not_found": {"en": "This case no longer exists.", "nl": "Deze case bestaat niet meer."},
    "status.dead_jobs": {
        "en": ":warning: {count} message(s) could not be posted to Slack and wait for an admin: "
        "`webcare outbox` shows why, `webcare outbox retry` sends them again.",
        "nl": ":warning: {count} bericht(en) konden niet in Slack worden geplaatst en wachten op "
        "een beheerder: `webcare outbox` laat zien waarom, `webcare outbox retry` stuurt ze "
        "opnieuw.",
    },
    "error.wrong_card": {
        "en": "This button does not belong to this card: nothing was changed.",
        "nl": "Deze knop hoort niet bij deze kaart: er is niets veranderd.",
    },
    "error.nobody": {"en": "nobody", "nl": "niemand"},
    "button.forward": {"en": "Forward", "nl": "Doorsturen"},
    "button.draft": {"en": "Draft reply", "nl": "Antwoord opstellen"},
    "button.follow_up": {"en": "Follow up", "nl": "Opvolgen"},
    "button.resolve": {"en": "Resolve", "nl": "Afhandelen"},
    "help.title": {"en": "Webcare router", "nl": "Webcare router"},
    "help.body": {
        "en": "*/webcare status [department]*: open, claimed and overdue cases\n"
        "*/webcare mine*: the cases you hold\n"
        "*/webcare report [today|week|month]*: response times against the SLA\n"
        "*/webcare help*: this overview",
        "nl": "*/webcare status [afdeling]*: open, opgepakte en te late cases\n"
        "*/webcare mine*: de cases die jij hebt\n"
        "*/webcare report [today|week|month]*: reactietijden tegenover de SLA\n"
        "*/webcare help*: dit overzicht",
    },
    "command.unknown": {
        "en": "I don't know `/webcare {sub}`. Try `/webcare help`.",
        "nl": "`/webcare {sub}` ken ik niet. Probeer `/webcare help`.",
    },
    "status.title": {"en": "Where we stand", "nl": "Hoe we ervoor staan"},
    "status.new": {"en": "new", "nl": "nieuw"},
    "status.reopened": {"en": "reopened", "nl": "heropend"},
    "status.claimed": {"en": "claimed", "nl": "opgepakt"},
    "status.forwarded": {"en": "forwarded", "nl": "doorgestuurd"},
    "status.replied": {"en": "waiting for customer", "nl": "wacht op klant"},
    "status.follow_up": {"en": "follow-up", "nl": "opvolging"},
    "status.resolved": {"en": "resolved", "nl": "afgehandeld"},
    "status.ignored": {"en": "ignored", "nl": "genegeerd"},
    "status.oldest": {
        "en": "Oldest unclaimed: waiting {age}",
        "nl": "Oudste niet opgepakt: wacht {age}",
    },
    "status.overdue": {"en": "Past the deadline: {cases}", "nl": "Over de deadline: {cases}"},
    "status.near": {
        "en": "Deadline within 30 min: {cases}",
        "nl": "Deadline binnen 30 min: {cases}",
    },
    "status.more": {"en": "and {count} more", "nl": "en nog {count}"},
    "status.follow_ups.one": {"en": "1 follow-up due today", "nl": "1 opvolging vandaag"},
    "status.follow_ups.other": {
        "en": "{count} follow-ups due today",
        "nl": "{count} opvolgingen vandaag",
    },
    "status.expected": {
        "en": "Expected reply time: ~{time}",
        "nl": "Verwachte reactietijd: ~{time}",
    },
    "status.minutes.one": {"en": "1 minute", "nl": "1 minuut"},
    "status.minutes.other": {"en": "{count} minutes", "nl": "{count} minuten"},
    "status.hours.one": {"en": "1 hour", "nl": "1 uur"},
    "status.hours.other": {"en": "{count} hours", "nl": "{count} uur"},
    "status.unknown_department": {
        "en": "I don't know the department “{name}”. Departments: {known}.",
        "nl": "De afdeling “{name}” ken ik niet. Afdelingen: {known}.",
    },
    "mine.title": {"en": "Your open cases ({count}):", "nl": "Jouw open cases ({count}):"},
    "mine.none": {
        "en": "You have no open cases. :tada:",
        "nl": "Je hebt geen open cases. :tada:",
    },
    "home.title": {"en": "Webcare", "nl": "Webcare"},
    "card.answered": {
        "en": "First answer after {minutes} min",
        "nl": "Eerste antwoord na {minutes} min",
    },
    "note.sla_warning": {
        "en": ":large_orange_circle: {contacts} Nobody has this case yet and it is due {due}",
        "nl": ":large_orange_circle: {contacts} Niemand heeft deze case nog en hij moet af {due}",
    },
    "note.sla_breach": {
        "en": ":red_circle: The response deadline ({due}) passed without an answer",
        "nl": ":red_circle: De reactietermijn ({due}) is verstreken zonder antwoord",
    },
    "note.sla_breach_escalated": {
        "en": ":red_circle: The response deadline ({due}) passed without an answer; "
        "escalated to {escalated}",
        "nl": ":red_circle: De reactietermijn ({due}) is verstreken zonder antwoord; "
        "geëscaleerd naar {escalated}",
    },
    "sla.breach_dm": {
        "en": ":red_circle: Case #{id} in {channel} passed its response deadline unanswered.",
        "nl": ":red_circle: Case #{id} in {channel} is over de reactietermijn zonder antwoord.",
    },
    "report.title.today": {"en": "Report: today", "nl": "Rapport: vandaag"},
    "report.title.week": {"en": "Report: this week", "nl": "Rapport: deze week"},
    "report.title.month": {"en": "Report: this month", "nl": "Rapport: deze maand"},
    "report.everyone": {"en": "all departments", "nl": "alle afdelingen"},
    "report.scope": {"en": "{scope}, since {since}", "nl": "{scope}, sinds {since}"},
    "report.volume": {
        "en": "*{mentions}* mentions in *{cases}* new cases",
        "nl": "*{mentions}* vermeldingen in *{cases}* nieuwe cases",
    },
    "report.by_source": {"en": "By source: {sources}", "nl": "Per bron: {sources}"},
    "report.by_department": {
        "en": "By department: {departments}",
        "nl": "Per afdeling: {departments}",
    },
    "report.spread": {
        "en": "median {median} min, 90% within {p90} min",
        "nl": "mediaan {median} min, 90% binnen {p90} min",
    },
    "report.first_response": {
        "en": "First answer: {business} (business time); {wall} (clock time)",
        "nl": "Eerste antwoord: {business} (kantoortijd); {wall} (kloktijd)",
    },
    "report.within_sla": {
        "en": "Answered within the SLA: {share}",
        "nl": "Binnen de SLA beantwoord: {share}",
    },
    "report.without_deadline": {
        "en": "({count} proactive without a deadline not counted)",
        "nl": "({count} proactief zonder termijn niet meegeteld)",
    },
    "report.resolution": {
        "en": "Resolved: {resolved} (median {median} business time)",
        "nl": "Afgehandeld: {resolved} (mediaan {median} kantoortijd)",
    },
    "report.reopened": {"en": "Reopened: {count}", "nl": "Heropend: {count}"},
    "report.follow_ups": {"en": "Follow-ups: {outcomes}", "nl": "Opvolgingen: {outcomes}"},
    "report.outcome.solved": {"en": "solved", "nl": "opgelost"},
    "report.outcome.still_open": {"en": "still open", "nl": "nog open"},
    "report.outcome.reopen": {"en": "not solved", "nl": "niet opgelost"},
    "report.no_public_close": {
        "en": "Resolved in private without closing the public thread: {count}",
        "nl": "Privé afgehandeld zonder het openbare gesprek af te sluiten: {count}",
    },
    "report.busiest": {"en": "Busiest hours: {hours}", "nl": "Drukste uren: {hours}"},
    "report.chart.title": {"en": "Mentions per hour", "nl": "Vermeldingen per uur"},
    "report.chart.hour": {"en": "hour of the day", "nl": "uur van de dag"},
    "report.chart.mentions": {"en": "mentions", "nl": "vermeldingen"},
    "report.building": {
        "en": ":hourglass_flowing_sand: Building the report…",
        "nl": ":hourglass_flowing_sand: Het rapport wordt gemaakt…",
    },
    "report.bad_period": {
        "en": "Use `/webcare report [today|week|month] [department]`.",
        "nl": "Gebruik `/webcare report [today|week|month] [afdeling]`.",
    },
    "spike.brand": {"en": "all mentions", "nl": "alle vermeldingen"},
    "spike.title": {
        "en": ":rotating_light: Spike in {scope}: {count} mentions in the last hour "
        "(usually ~{usual})",
        "nl": ":rotating_light: Piek in {scope}: {count} vermeldingen in het afgelopen uur "
        "(normaal ~{usual})",
    },
    "spike.sources": {"en": "Top sources: {sources}", "nl": "Belangrijkste bronnen: {sources}"},
    "spike.words": {"en": "Most used words: {words}", "nl": "Meest gebruikte woorden: {words}"},
    "spike.hint": {
        "en": "Compared with the same hour in the past weeks. Check `/webcare status`.",
        "nl": "Vergeleken met hetzelfde uur in de afgelopen weken. Kijk in `/webcare status`.",
    },
    "crisis.start": {"en": "Start crisis mode", "nl": "Crisismodus starten"},
    "crisis.end": {"en": "End crisis mode", "nl": "Crisismodus beëindigen"},
    "crisis.on": {
        "en": "Crisis mode is on (started by {actor})",
        "nl": "Crisismodus staat aan (gestart door {actor})",
    },
    "crisis.head": {
        "en": ":rotating_light: *Crisis mode for {department}*: new mentions about {topic} "
        "gather in this thread instead of the channel.",
        "nl": ":rotating_light: *Crisismodus voor {department}*: nieuwe vermeldingen over "
        "{topic} komen in deze thread in plaats van in het kanaal.",
    },
    "error.another_open_case": {
        "en": "The customer already has another open case; work on that one.",
        "nl": "De klant heeft al een andere open case; werk daarin verder.",
    },
    "error.crisis_already_on": {
        "en": "Crisis mode is already on.",
        "nl": "De crisismodus staat al aan.",
    },
    "error.crisis_not_on": {"en": "Crisis mode is not on.", "nl": "De crisismodus staat niet aan."},
    "sources.failing": {
        "en": ":warning: Source *{source}* has been failing since {since}: {error}. "
        "Mentions from it are not coming in. Check `webcare sources`.",
        "nl": ":warning: Bron *{source}* faalt sinds {since}: {error}. "
        "Vermeldingen daarvan komen niet binnen. Kijk met `webcare sources`.",
    },
    "sources.quiet": {
        "en": ":warning: Source *{source}* has brought nothing new since {since}, while it "
        "usually does. Is it still working? Check `webcare sources test {source}`.",
        "nl": ":warning: Bron *{source}* heeft sinds {since} niets nieuws opgeleverd, terwijl "
        "dat normaal wel zo is. Werkt hij nog? Kijk met `webcare sources test {source}`.",
    },
    "sources.connected": {
        "en": ":satellite_antenna: Source *{source}* is connected: its first poll took in "
        "{items} item(s) posted since {since}.",
        "nl": ":satellite_antenna: Bron *{source}* is aangesloten: de eerste keer lezen "
        "leverde {items} bericht(en) op, geplaatst sinds {since}.",
    },
    "sources.recovered": {
        "en": ":white_check_mark: Source *{source}* works again (it was down since {since}).",
        "nl": ":white_check_mark: Bron *{source}* werkt weer (hij lag eruit sinds {since}).",
    },
    "status.source_quiet": {"en": "nothing new", "nl": "niets nieuws"},
    "status.since": {"en": "since {since}", "nl": "sinds {since}"},
    "status.sources_down": {
        "en": ":warning: Sources down: {sources}",
        "nl": ":warning: Bronnen die niet werken: {sources}",
    },
    "status.behind.one": {
        "en": ":hourglass_flowing_sand: 1 mention waiting to be posted in <#{channel}>, "
        "oldest {age} s",
        "nl": ":hourglass_flowing_sand: 1 vermelding wacht om geplaatst te worden in "
        "<#{channel}>, oudste {age} s",
    },
    "status.behind.other": {
        "en": ":hourglass_flowing_sand: {count} mentions waiting to be posted in <#{channel}>, "
        "oldest {age} s",
        "nl": ":hourglass_flowing_sand: {count} vermeldingen wachten om geplaatst te worden in "
        "<#{channel}>, oudste {age} s",
    },
    "home.intro": {
        "en": "Mentions of our brand arrive as cards in the department channels.",
        "nl": "Vermeldingen van ons merk komen als kaarten binnen in de afdelingskanalen.",
    },
    "digest.head.one": {
        "en": ":zap: *1 new case* · in a storm or a crisis new cases arrive together, a row "
        "each. Claim a case to get its own card.",
        "nl": ":zap: *1 nieuwe case* · bij een storm of crisis komen nieuwe cases samen binnen, "
        "een regel per case. Claim een case voor een eigen kaart.",
    },
    "digest.head.other": {
        "en": ":zap: *{count} new cases* · in a storm or a crisis new cases arrive together, a "
        "row each. Claim a case to get its own card.",
        "nl": ":zap: *{count} nieuwe cases* · bij een storm of crisis komen nieuwe cases samen "
        "binnen, een regel per case. Claim een case voor een eigen kaart.",
    },
    "digest.fallback.one": {"en": "1 new case: {authors}", "nl": "1 nieuwe case: {authors}"},
    "digest.fallback.other": {
        "en": "{count} new cases: {authors}",
        "nl": "{count} nieuwe cases: {authors}",
    },
    "digest.case": {"en": "case #{id}", "nl": "case #{id}"},
    "digest.claimed": {
        "en": ":raising_hand: {owner} took this case: <{card}|its card>",
        "nl": ":raising_hand: {owner} heeft deze case: <{card}|naar de kaart>",
    },
    "digest.carded": {
        "en": ":arrow_right: <{card}|its card> ({status})",
        "nl": ":arrow_right: <{card}|naar de kaart> ({status})",
    },
    "digest.card_coming": {
        "en": ":hourglass_flowing_sand: {owner} took this case; its card follows",
        "nl": ":hourglass_flowing_sand: {owner} heeft deze case; de kaart volgt",
    },
    "digest.moved_away": {
        "en": "Cases moved to another department have left this list.",
        "nl": "Cases die naar een andere afdeling gingen, staan niet meer in deze lijst.",
    },
    "card.later": {
        "en": "Later from the customer ({count}):",
        "nl": "Later van de klant ({count}):",
    },
}
