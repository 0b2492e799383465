// Fails when the quick start in the repository's README drifts from src/main.ts.
// `node check-readme.mjs --write` copies src/main.ts into the README instead.
import { readFileSync, writeFileSync } from 'node:fs';

const readmeUrl = new URL('../../README.md', import.meta.url);
const readme = readFileSync(readmeUrl, 'utf8');
const source = readFileSync(new URL('./src/main.ts', import.meta.url), 'utf8');
const block = readme.match(
  /<!-- quickstart:start -->\n```ts\n([\s\S]*?)```\n<!-- quickstart:end -->/,
);
if (!block) {
  console.error('README.md has no quick start block between the quickstart markers');
  process.exit(1);
}
if (process.argv.includes('--write')) {
  writeFileSync(
    readmeUrl,
    readme.replace(block[1], () => source),
  );
  console.log('README.md quick start updated from examples/quickstart/src/main.ts');
} else if (block[1] !== source) {
  console.error('README.md quick start differs from examples/quickstart/src/main.ts: copy it over');
  process.exit(1);
} else {
  console.log('README quick start matches examples/quickstart/src/main.ts');
}
