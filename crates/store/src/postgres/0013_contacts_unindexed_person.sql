-- No query looks contacts up by person (whether a contact became a case is read from the
-- cases table), and the index cost every trace a scattered write per contact: with
-- thousands of contacts a trace, that was most of the pages it wrote.

DROP INDEX contacts_person;
