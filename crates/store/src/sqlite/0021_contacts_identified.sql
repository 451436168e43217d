-- A trace wrote a `contact.identified` event for each of its thousands of contacts; a
-- `contacts.identified` event names up to a hundred contacts of one case or exposure,
-- generation and unit (`tracing/mod.rs`). Events already in the outbox take the new form,
-- each naming its one contact, so a consumer that has not read them yet reads them as it
-- reads new ones.
UPDATE events SET
    kind = 'contacts.identified',
    subject = coalesce(json_extract(payload, '$.case'), json_extract(payload, '$.exposure'), ''),
    payload = json_patch(payload, json_object(
        'generation', coalesce(json_extract(payload, '$.generation'), 1),
        'contacts', json_array(subject)))
WHERE kind = 'contact.identified';
