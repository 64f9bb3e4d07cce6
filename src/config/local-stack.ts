/** Local stack ports: one place, so the supervisor, the config defaults and docker-compose agree. */
export const LOCAL_PORTS = {
  temporal: 7233,
  temporalUi: 8233,
  kafka: 9092,
  kafkaController: 9093,
  moto: 5000,
  lake: 5050,
} as const;

export const LOCAL_HOST = '127.0.0.1';
