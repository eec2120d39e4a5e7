import type { Lang } from './i18n';

/** Transactional e-mails in Russian and English. Plain text is the source; the HTML part is derived from it. */
export interface Mail { subject: string; text: string }

type Params = Record<string, string>;

const MAILS: Record<string, Record<Lang, (p: Params) => Mail>> = {
  application: {
    en: (p) => ({
      subject: `Payhub: your test account for ${p.shop} is ready`,
      text: `Hello,

your application for ${p.shop} was received and a test account was opened.

Merchant id: ${p.merchantId}
Your test secret key was shown once when you applied (it ends in …${p.keyLast4}).
Test mode ends: ${p.expires} (UTC). After that the test key stops working until you complete registration.

Next steps:
1. Sign in to the dashboard: ${p.link}
2. Complete your profile (registration): this lifts the test-mode limit.
3. Choose a servicing bank and send its documents.
4. Request production: the operator records your bank contract, checks the connection and switches you to live.

Test cards: 4111 1111 1111 1111 (approved), 4000 0000 0000 0002 (declined).
`,
    }),
    ru: (p) => ({
      subject: `Payhub: тестовый кабинет магазина ${p.shop} готов`,
      text: `Здравствуйте!

Заявка магазина ${p.shop} получена, открыт тестовый кабинет.

Идентификатор магазина: ${p.merchantId}
Тестовый секретный ключ был показан один раз при подаче заявки (оканчивается на …${p.keyLast4}).
Тестовый режим действует до: ${p.expires} (UTC). После этого тестовый ключ перестанет работать, пока вы не завершите регистрацию.

Что дальше:
1. Войдите в личный кабинет: ${p.link}
2. Заполните профиль (регистрация): это снимает ограничение тестового режима.
3. Выберите обслуживающий банк и отправьте его документы.
4. Запросите перевод в боевой режим: оператор внесёт договор с банком, проверит подключение и переведёт магазин в боевой режим.

Тестовые карты: 4111 1111 1111 1111 (успешно), 4000 0000 0000 0002 (отказ).
`,
    }),
  },
  registered: {
    en: (p) => ({ subject: `Payhub: registration of ${p.shop} is complete`, text: `Hello,\n\nthe registration of ${p.shop} is complete: your test key no longer expires.\nNext: choose a servicing bank in the dashboard: ${p.link}\n` }),
    ru: (p) => ({ subject: `Payhub: регистрация магазина ${p.shop} завершена`, text: `Здравствуйте!\n\nРегистрация магазина ${p.shop} завершена: тестовый ключ больше не ограничен по времени.\nДалее выберите обслуживающий банк в личном кабинете: ${p.link}\n` }),
  },
  bank: {
    en: (p) => ({
      subject: `Payhub: what ${p.bank} needs from ${p.shop}`,
      text: `Hello,\n\nyou chose ${p.bank} as the servicing bank of ${p.shop}.\n\nDocuments the bank asks for:\n${p.documents}\n\nThe bank will issue to you (the operator enters them in the hub):\n${p.fields}\n\nWhen the contract is signed, request production in the dashboard: ${p.link}\n`,
    }),
    ru: (p) => ({
      subject: `Payhub: требования банка ${p.bank} для магазина ${p.shop}`,
      text: `Здравствуйте!\n\nВы выбрали банк ${p.bank} для обслуживания магазина ${p.shop}.\n\nДокументы, которые запрашивает банк:\n${p.documents}\n\nБанк выдаст реквизиты (их вносит оператор хаба):\n${p.fields}\n\nКогда договор будет подписан, запросите боевой режим в личном кабинете: ${p.link}\n`,
    }),
  },
  productionRequested: {
    en: (p) => ({ subject: `Payhub: ${p.shop} requests production`, text: `The merchant ${p.shop} (${p.merchantId}) requests production with ${p.bank}.\nReview it: ${p.link}\n` }),
    ru: (p) => ({ subject: `Payhub: магазин ${p.shop} просит боевой режим`, text: `Магазин ${p.shop} (${p.merchantId}) просит перевод в боевой режим, банк ${p.bank}.\nРассмотреть: ${p.link}\n` }),
  },
  live: {
    en: (p) => ({ subject: `Payhub: ${p.shop} is live`, text: `Hello,\n\n${p.shop} now takes real payments through ${p.bank}.\nYour live secret key is issued in the dashboard (API keys): ${p.link}\nTest keys no longer work while you are live.\n` }),
    ru: (p) => ({ subject: `Payhub: магазин ${p.shop} переведён в боевой режим`, text: `Здравствуйте!\n\nМагазин ${p.shop} принимает реальные платежи через банк ${p.bank}.\nБоевой секретный ключ выпускается в личном кабинете (раздел «API-ключи»): ${p.link}\nТестовые ключи в боевом режиме не работают.\n` }),
  },
  invite: {
    en: (p) => ({ subject: `Payhub: you were added to ${p.shop}`, text: `Hello,\n\nyou were added to the dashboard of ${p.shop} with the role ${p.role}.\nSet your password: ${p.link}\n` }),
    ru: (p) => ({ subject: `Payhub: вас добавили в кабинет магазина ${p.shop}`, text: `Здравствуйте!\n\nВас добавили в личный кабинет магазина ${p.shop} с ролью ${p.role}.\nЗадайте пароль: ${p.link}\n` }),
  },
};

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderMail(name: keyof typeof MAILS, lang: Lang, p: Params): { subject: string; text: string; html: string } {
  const m = MAILS[name]![lang](p);
  const html = `<!doctype html><html lang="${lang}"><body style="font-family:sans-serif;line-height:1.5">${esc(m.text).split('\n\n')
    .map((para) => `<p>${para.replace(/https?:\/\/[^\s<]+/g, (u) => `<a href="${u}">${u}</a>`).replace(/\n/g, '<br>')}</p>`).join('')}</body></html>`;
  return { ...m, html };
}
