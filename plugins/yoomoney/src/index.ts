import { definePlugin } from '@payhub/core';

export default definePlugin({
  name: 'yoomoney',
  version: require('../../package.json').version,
  core: '^1.0.0',
});
