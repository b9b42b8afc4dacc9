/* The loader's pre-wasm rules (widget/js/loader.js, between "rules: begin" and "rules: end":
 * the lists generated from the Rust rules and the few lines of logic around them) on the table
 * of cases the wasm's rules are tested with (tests/fixtures/rules/fields.json; the Rust side is
 * crates/widget-core/src/loader_rules.rs; the stored cookie choice, Consent Mode and the
 * language on tests/fixtures/rules/choices.json and languages.json). One table for both, so the two copies cannot drift apart.
 * Run by `cargo xtask test`: node --test widget/js/rules.test.js */
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const loader = fs.readFileSync(path.join(__dirname, 'loader.js'), 'utf8');
const begin = loader.indexOf('// rules: begin');
const end = loader.indexOf('// rules: end');
assert.ok(begin > 0 && end > begin, 'loader.js marks its rules with "rules: begin" and "rules: end"');
// eslint-disable-next-line no-new-func
const rules = new Function(`${loader.slice(begin, end)}
  return { personalField: personalField, role: role, cookieValue: cookieValue,
    storedChoice: storedChoice, consentMode: consentMode, chooseLanguage: chooseLanguage,
    COOKIE: COOKIE };`)();

const cases = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../../tests/fixtures/rules/fields.json'), 'utf8'));

/** A form control as the loader sees it: its tag, id and attributes. */
function control(c) {
  const attributes = { type: c.type, name: c.name, autocomplete: c.autocomplete };
  return {
    localName: c.tag,
    id: c.id || '',
    getAttribute(name) {
      return attributes[name] === undefined ? null : attributes[name];
    }
  };
}

const ROLES = [null, 'personal', 'free_text'];

test('the table is the one the wasm is tested with', () => {
  assert.ok(cases.length > 40);
  assert.ok(cases.some((c) => c.name === 'userTel' && c.personal));
  assert.ok(cases.some((c) => c.name === 'contactMail' && c.personal));
});

for (const c of cases) {
  const label = JSON.stringify(c);
  test(`personal-data field: ${label}`, () => {
    assert.strictEqual(rules.personalField(control(c)), c.personal);
  });
  test(`recorders' role: ${label}`, () => {
    assert.strictEqual(ROLES[rules.role(control(c))], c.role);
  });
}

const choices = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../../tests/fixtures/rules/choices.json'), 'utf8'));
for (const c of choices) {
  test(`stored cookie choice: ${JSON.stringify(c)}`, () => {
    const categories = c.categories.map(([id, required]) => ({ id, required }));
    const grants = rules.storedChoice(rules.cookieValue(c.cookie, rules.COOKIE), c.revision,
      categories);
    assert.deepStrictEqual(grants, c.grants);
    if (grants) assert.deepStrictEqual(rules.consentMode(categories, grants), c.consent_mode);
  });
}

const languages = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../../tests/fixtures/rules/languages.json'), 'utf8'));
for (const c of languages) {
  test(`language: ${JSON.stringify(c)}`, () => {
    assert.strictEqual(rules.chooseLanguage(c.requested, c.page, c.supported), c.chosen);
  });
}
