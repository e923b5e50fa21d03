//! The table of builtin functions: names (Vensim and XMILE spellings),
//! arities and signatures for error messages.

/// A builtin function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    Abs,
    Exp,
    Ln,
    Log,
    Log10,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Arcsin,
    Arccos,
    Arctan,
    Sinh,
    Cosh,
    Tanh,
    Integer,
    /// XMILE's and Stella's `INT`: the largest integer not above x.
    Int,
    Round,
    Sign,
    Pi,
    Modulo,
    Power,
    Min,
    Max,
    Sum,
    Mean,
    Xidz,
    Zidz,
    SafeDiv,
    Step,
    Pulse,
    PulseTrain,
    Ramp,
    Initial,
    Delay1,
    Delay1I,
    Delay3,
    Delay3I,
    DelayN,
    DelayNXmile,
    DelayFixed,
    DelayXmile,
    Smooth,
    SmoothI,
    Smooth3,
    Smooth3I,
    SmoothN,
    SmoothNXmile,
    Trend,
    /// Vensim's `FORECAST(input, average time, horizon)`.
    Forecast,
    /// XMILE's `FORCST(input, averaging time, horizon[, initial trend])`.
    ForecastXmile,
    /// XMILE's `PREVIOUS(x, initial)`: x at the step before; `initial` at
    /// the first.
    Previous,
    /// Vensim's `QUANTUM(x, q)`: x rounded down (towards zero) to a
    /// multiple of q.
    Quantum,
    /// Vensim's `SAMPLE IF TRUE(condition, input, initial)`.
    SampleIfTrue,
    /// Vensim's `GAME(x)`: x, outside a game.
    Game,
    Lookup,
    /// Vensim's `LOOKUP EXTRAPOLATE(lookup, x)`: linear beyond the ends.
    LookupExtrapolate,
    /// Vensim's `LOOKUP FORWARD(lookup, x)`: the value of the first point
    /// at or after x.
    LookupForward,
    /// Vensim's `LOOKUP BACKWARD(lookup, x)`: the value of the last point
    /// at or before x.
    LookupBackward,
    /// Vensim's `LOOKUP INVERT(lookup, y)`: the x at which a monotonic
    /// lookup gives y.
    LookupInvert,
    /// Vensim's `LOOKUP AREA(lookup, x1, x2)`: the integral of the lookup
    /// from x1 to x2.
    LookupArea,
    /// Vensim's `NPV(stream, discount rate, initial value, factor)`.
    Npv,
    /// Vensim's `GAMMA LN(x)`: ln Γ(x), for x > 0.
    GammaLn,
    /// Vensim's `VECTOR SELECT(selection, expression, missing, action, error)`.
    VectorSelect,
    /// Vensim's `VECTOR SORT ORDER(vector, direction)`.
    VectorSortOrder,
    /// Vensim's `VECTOR RANK(vector, direction)`.
    VectorRank,
    /// Vensim's `VECTOR REORDER(vector, order)`.
    VectorReorder,
    /// Vensim's `VECTOR ELM MAP(vector[base], offset)`.
    VectorElmMap,
    /// Vensim's `ALLOCATE BY PRIORITY(request, priority, size, width, supply)`.
    AllocateByPriority,
    /// Vensim's `ALLOCATE AVAILABLE(request, priority profiles, available)`.
    AllocateAvailable,
    /// Vensim's `INVERT MATRIX(matrix, size)`.
    InvertMatrix,
    /// Stella's `RANK(array, rank)`: the index (from 1) of the element with
    /// that rank, 1 the smallest.
    RankXmile,
    /// Vensim's `ACTIVE INITIAL(active, initial)`.
    ActiveInitial,
    /// Vensim's `GET DATA AT TIME(data, time)`: a data variable's value at
    /// another time.
    GetDataAtTime,
    /// Vensim's `GET DATA FIRST TIME(data)`.
    GetDataFirstTime,
    /// Vensim's `GET DATA LAST TIME(data)`.
    GetDataLastTime,
    /// Vensim's `GET TIME VALUE(relative to, offset, measure)`.
    GetTimeValue,
    /// Vensim's `RANDOM UNIFORM(min, max, seed)`.
    RandomUniform,
    /// Vensim's `RANDOM NORMAL(min, max, mean, sd, seed)`.
    RandomNormal,
    /// Vensim's `RANDOM EXPONENTIAL(min, max, shift, stretch, seed)`.
    RandomExponential,
    /// Vensim's `RANDOM POISSON(min, max, mean, shift, stretch, seed)`.
    RandomPoisson,
    /// Vensim's `RANDOM GAMMA(min, max, order, shift, stretch, seed)`.
    RandomGamma,
    /// Vensim's `RANDOM BETA(min, max, alpha, beta, shift, stretch, seed)`.
    RandomBeta,
    /// Vensim's `RANDOM BINOMIAL(min, max, p, n, shift, stretch, seed)`.
    RandomBinomial,
    /// Vensim's `RANDOM WEIBULL(min, max, shape, shift, stretch, seed)`.
    RandomWeibull,
    /// Vensim's `RANDOM TRIANGULAR(min, max, start, peak, end, seed)`.
    RandomTriangular,
    /// Vensim's `RANDOM PINK NOISE(mean, sdev, correlation time, seed)`.
    RandomPinkNoise,
    /// Vensim's `RANDOM 0 1()`.
    Random01,
    /// XMILE's `RANDOM(min, max[, seed])`.
    RandomXmile,
    /// XMILE's `NORMAL(mean, sd[, seed])`.
    NormalXmile,
    /// Stella's `POISSON(mean[, seed])`.
    PoissonXmile,
    /// Stella's `EXPRND(mean[, seed])`.
    ExpRndXmile,
}

/// (canonical spelling, builtin). Several spellings may share a builtin.
const TABLE: &[(&str, Builtin)] = &[
    ("abs", Builtin::Abs),
    ("exp", Builtin::Exp),
    ("ln", Builtin::Ln),
    ("log", Builtin::Log),
    ("log10", Builtin::Log10),
    ("sqrt", Builtin::Sqrt),
    ("sin", Builtin::Sin),
    ("cos", Builtin::Cos),
    ("tan", Builtin::Tan),
    ("arcsin", Builtin::Arcsin),
    ("asin", Builtin::Arcsin),
    ("arccos", Builtin::Arccos),
    ("acos", Builtin::Arccos),
    ("arctan", Builtin::Arctan),
    ("atan", Builtin::Arctan),
    ("sinh", Builtin::Sinh),
    ("cosh", Builtin::Cosh),
    ("tanh", Builtin::Tanh),
    ("integer", Builtin::Integer),
    ("int", Builtin::Int),
    ("round", Builtin::Round),
    ("sign", Builtin::Sign),
    ("pi", Builtin::Pi),
    ("modulo", Builtin::Modulo),
    ("power", Builtin::Power),
    ("min", Builtin::Min),
    ("max", Builtin::Max),
    ("sum", Builtin::Sum),
    ("mean", Builtin::Mean),
    ("xidz", Builtin::Xidz),
    ("zidz", Builtin::Zidz),
    ("safediv", Builtin::SafeDiv),
    ("step", Builtin::Step),
    ("pulse", Builtin::Pulse),
    ("pulse_train", Builtin::PulseTrain),
    ("ramp", Builtin::Ramp),
    ("initial", Builtin::Initial),
    ("init", Builtin::Initial),
    ("delay1", Builtin::Delay1),
    ("delay1i", Builtin::Delay1I),
    ("delay3", Builtin::Delay3),
    ("delay3i", Builtin::Delay3I),
    ("delay_n", Builtin::DelayN),
    ("delayn", Builtin::DelayNXmile),
    ("delay_fixed", Builtin::DelayFixed),
    ("delay", Builtin::DelayXmile),
    ("smooth", Builtin::Smooth),
    ("smth1", Builtin::Smooth),
    ("smoothi", Builtin::SmoothI),
    ("smooth3", Builtin::Smooth3),
    ("smth3", Builtin::Smooth3),
    ("smooth3i", Builtin::Smooth3I),
    ("smooth_n", Builtin::SmoothN),
    ("smthn", Builtin::SmoothNXmile),
    ("trend", Builtin::Trend),
    ("forecast", Builtin::Forecast),
    ("forcst", Builtin::ForecastXmile),
    ("previous", Builtin::Previous),
    ("quantum", Builtin::Quantum),
    ("sample_if_true", Builtin::SampleIfTrue),
    ("game", Builtin::Game),
    ("lookup", Builtin::Lookup),
    ("lookup_extrapolate", Builtin::LookupExtrapolate),
    ("lookup_forward", Builtin::LookupForward),
    ("lookup_backward", Builtin::LookupBackward),
    ("lookup_invert", Builtin::LookupInvert),
    ("lookup_area", Builtin::LookupArea),
    ("npv", Builtin::Npv),
    ("gamma_ln", Builtin::GammaLn),
    ("vector_select", Builtin::VectorSelect),
    ("vector_sort_order", Builtin::VectorSortOrder),
    ("vector_rank", Builtin::VectorRank),
    ("vector_reorder", Builtin::VectorReorder),
    ("vector_elm_map", Builtin::VectorElmMap),
    ("allocate_by_priority", Builtin::AllocateByPriority),
    ("allocate_available", Builtin::AllocateAvailable),
    ("invert_matrix", Builtin::InvertMatrix),
    ("rank", Builtin::RankXmile),
    ("active_initial", Builtin::ActiveInitial),
    ("get_data_at_time", Builtin::GetDataAtTime),
    ("get_data_first_time", Builtin::GetDataFirstTime),
    ("get_data_last_time", Builtin::GetDataLastTime),
    ("get_time_value", Builtin::GetTimeValue),
    ("random_uniform", Builtin::RandomUniform),
    ("random_normal", Builtin::RandomNormal),
    ("random_exponential", Builtin::RandomExponential),
    ("random_poisson", Builtin::RandomPoisson),
    ("random_gamma", Builtin::RandomGamma),
    ("random_beta", Builtin::RandomBeta),
    ("random_binomial", Builtin::RandomBinomial),
    ("random_weibull", Builtin::RandomWeibull),
    ("random_triangular", Builtin::RandomTriangular),
    ("random_pink_noise", Builtin::RandomPinkNoise),
    ("random_0_1", Builtin::Random01),
    ("random", Builtin::RandomXmile),
    ("normal", Builtin::NormalXmile),
    ("poisson", Builtin::PoissonXmile),
    ("exprnd", Builtin::ExpRndXmile),
];

/// Functions of Vensim and Stella that carecascade knows but does not
/// take, by canonical name, with the reason (said where they are called).
const REFUSED: &[(&str, &str)] = &[
    (
        "delay_conveyor",
        "DELAY CONVEYOR is not supported: a conveyor carries each unit of input with its own exit time, and leaks, while its transit time may change; carecascade has no such pipeline, and how Vensim moves material already in transit when the delay time changes, and spreads the initial contents, could not be established well enough to give Vensim's numbers; carecascade will not guess. For a transit time fixed when the run starts, DELAY FIXED(input, delay time, initial value) is a pipeline delay",
    ),
    (
        "random_lookup",
        "RANDOM LOOKUP is not supported: how Vensim turns the lookup into a distribution (a density between its points, or a cumulative one, and how it is interpolated and cut at min and max) could not be established, and carecascade will not guess. Draw from the inverse of your cumulative distribution instead: `inverse cdf(RANDOM UNIFORM(0, 1, seed))`, with `inverse cdf` a lookup",
    ),
    (
        "npve",
        "NPVE is not supported: how Vensim's NPVE discounts differently from NPV could not be established, and carecascade will not guess. NPV(stream, discount rate, initial value, factor) is supported, as Vensim's reference defines it",
    ),
    (
        "delay_material",
        "DELAY MATERIAL is not supported: it is a pipeline delay that keeps the material in transit when its delay time changes, and how Vensim moves that material to its new exit times could not be established; carecascade will not guess. For a delay time fixed when the run starts, DELAY FIXED(input, delay time, initial value) is a pipeline delay; DELAY N is a material delay whose stages follow a changing delay time",
    ),
];

/// Why a function carecascade knows of is refused, if it is one.
pub(crate) fn refused_function(canonical: &str) -> Option<&'static str> {
    REFUSED
        .iter()
        .find(|(n, _)| *n == canonical)
        .map(|(_, why)| *why)
}

pub(crate) fn lookup_builtin(canonical: &str) -> Option<Builtin> {
    TABLE.iter().find(|(n, _)| *n == canonical).map(|(_, b)| *b)
}

/// Every builtin spelling, for suggestions.
pub(crate) fn builtin_names() -> &'static [&'static str] {
    const NAMES: &[&str] = &[
        "ABS",
        "EXP",
        "LN",
        "LOG",
        "LOG10",
        "SQRT",
        "SIN",
        "COS",
        "TAN",
        "ARCSIN",
        "ARCCOS",
        "ARCTAN",
        "SINH",
        "COSH",
        "TANH",
        "INTEGER",
        "INT",
        "ROUND",
        "SIGN",
        "PI",
        "MODULO",
        "POWER",
        "MIN",
        "MAX",
        "XIDZ",
        "ZIDZ",
        "SAFEDIV",
        "STEP",
        "PULSE",
        "PULSE TRAIN",
        "RAMP",
        "INITIAL",
        "INIT",
        "DELAY1",
        "DELAY1I",
        "DELAY3",
        "DELAY3I",
        "DELAY N",
        "DELAYN",
        "DELAY FIXED",
        "DELAY",
        "SMOOTH",
        "SMTH1",
        "SMOOTHI",
        "SMOOTH3",
        "SMTH3",
        "SMOOTH3I",
        "SMOOTH N",
        "SMTHN",
        "TREND",
        "FORECAST",
        "FORCST",
        "PREVIOUS",
        "LOOKUP",
        "LOOKUP EXTRAPOLATE",
        "LOOKUP FORWARD",
        "LOOKUP BACKWARD",
        "LOOKUP INVERT",
        "LOOKUP AREA",
        "NPV",
        "GAMMA LN",
        "VECTOR SELECT",
        "VECTOR SORT ORDER",
        "VECTOR RANK",
        "VECTOR REORDER",
        "VECTOR ELM MAP",
        "ALLOCATE BY PRIORITY",
        "ALLOCATE AVAILABLE",
        "INVERT MATRIX",
        "RANK",
        "ACTIVE INITIAL",
        "GET DATA AT TIME",
        "GET DATA FIRST TIME",
        "GET DATA LAST TIME",
        "GET TIME VALUE",
        "RANDOM UNIFORM",
        "RANDOM NORMAL",
        "RANDOM EXPONENTIAL",
        "RANDOM POISSON",
        "RANDOM GAMMA",
        "RANDOM BETA",
        "RANDOM BINOMIAL",
        "RANDOM WEIBULL",
        "RANDOM TRIANGULAR",
        "RANDOM PINK NOISE",
        "RANDOM 0 1",
        "RANDOM",
        "NORMAL",
        "POISSON",
        "EXPRND",
    ];
    NAMES
}

impl Builtin {
    /// Minimum and maximum number of arguments.
    pub(crate) fn arity(self) -> (usize, usize) {
        use Builtin::*;
        match self {
            Pi => (0, 0),
            Abs | Exp | Ln | Log10 | Sqrt | Sin | Cos | Tan | Arcsin | Arccos | Arctan | Sinh
            | Cosh | Tanh | Integer | Int | Round | Sign | Initial | Sum | Mean | GammaLn => (1, 1),
            Log => (1, 2),
            Modulo | Power | Zidz | Step | Pulse | Lookup | Quantum => (2, 2),
            LookupExtrapolate | LookupForward | LookupBackward | LookupInvert => (2, 2),
            Game => (1, 1),
            Min | Max => (1, usize::MAX),
            Xidz | Delay1I | Delay3I | SmoothI | Smooth3I | Forecast | SampleIfTrue
            | LookupArea => (3, 3),
            // Vensim's takes 3; XMILE's initial trend is optional (0).
            Trend => (2, 3),
            Ramp | SafeDiv => (2, 3),
            Delay1 | Delay3 | Smooth | Smooth3 | DelayXmile => (2, 3),
            DelayFixed => (3, 3),
            PulseTrain | DelayN | SmoothN | Npv => (4, 4),
            DelayNXmile | SmoothNXmile => (3, 4),
            VectorSortOrder | VectorRank | VectorReorder | VectorElmMap | InvertMatrix => (2, 2),
            VectorSelect | AllocateByPriority | RandomNormal | RandomExponential => (5, 5),
            RandomUniform | GetTimeValue | AllocateAvailable => (3, 3),
            ActiveInitial | GetDataAtTime | Previous => (2, 2),
            ForecastXmile => (3, 4),
            GetDataFirstTime | GetDataLastTime => (1, 1),
            RankXmile => (2, 3),
            RandomPoisson | RandomGamma | RandomWeibull | RandomTriangular => (6, 6),
            RandomPinkNoise => (4, 4),
            RandomBeta | RandomBinomial => (7, 7),
            Random01 => (0, 0),
            RandomXmile | NormalXmile => (2, 3),
            PoissonXmile | ExpRndXmile => (1, 2),
        }
    }

    /// The usual spelling.
    pub(crate) fn spelling(self) -> &'static str {
        use Builtin::*;
        match self {
            Abs => "ABS",
            Exp => "EXP",
            Ln => "LN",
            Log => "LOG",
            Log10 => "LOG10",
            Sqrt => "SQRT",
            Sin => "SIN",
            Cos => "COS",
            Tan => "TAN",
            Arcsin => "ARCSIN",
            Arccos => "ARCCOS",
            Arctan => "ARCTAN",
            Sinh => "SINH",
            Cosh => "COSH",
            Tanh => "TANH",
            Integer => "INTEGER",
            Int => "INT",
            Round => "ROUND",
            Sign => "SIGN",
            Pi => "PI",
            Modulo => "MODULO",
            Power => "POWER",
            Min => "MIN",
            Max => "MAX",
            Sum => "SUM",
            Mean => "MEAN",
            Xidz => "XIDZ",
            Zidz => "ZIDZ",
            SafeDiv => "SAFEDIV",
            Step => "STEP",
            Pulse => "PULSE",
            PulseTrain => "PULSE TRAIN",
            Ramp => "RAMP",
            Initial => "INITIAL",
            Delay1 => "DELAY1",
            Delay1I => "DELAY1I",
            Delay3 => "DELAY3",
            Delay3I => "DELAY3I",
            DelayN => "DELAY N",
            DelayNXmile => "DELAYN",
            DelayFixed => "DELAY FIXED",
            DelayXmile => "DELAY",
            Smooth => "SMOOTH",
            SmoothI => "SMOOTHI",
            Smooth3 => "SMOOTH3",
            Smooth3I => "SMOOTH3I",
            SmoothN => "SMOOTH N",
            SmoothNXmile => "SMTHN",
            Trend => "TREND",
            Forecast => "FORECAST",
            ForecastXmile => "FORCST",
            Previous => "PREVIOUS",
            Quantum => "QUANTUM",
            SampleIfTrue => "SAMPLE IF TRUE",
            Game => "GAME",
            Lookup => "LOOKUP",
            LookupExtrapolate => "LOOKUP EXTRAPOLATE",
            LookupForward => "LOOKUP FORWARD",
            LookupBackward => "LOOKUP BACKWARD",
            LookupInvert => "LOOKUP INVERT",
            LookupArea => "LOOKUP AREA",
            Npv => "NPV",
            GammaLn => "GAMMA LN",
            VectorSelect => "VECTOR SELECT",
            VectorSortOrder => "VECTOR SORT ORDER",
            VectorRank => "VECTOR RANK",
            VectorReorder => "VECTOR REORDER",
            VectorElmMap => "VECTOR ELM MAP",
            AllocateByPriority => "ALLOCATE BY PRIORITY",
            AllocateAvailable => "ALLOCATE AVAILABLE",
            InvertMatrix => "INVERT MATRIX",
            RankXmile => "RANK",
            ActiveInitial => "ACTIVE INITIAL",
            GetDataAtTime => "GET DATA AT TIME",
            GetDataFirstTime => "GET DATA FIRST TIME",
            GetDataLastTime => "GET DATA LAST TIME",
            GetTimeValue => "GET TIME VALUE",
            RandomUniform => "RANDOM UNIFORM",
            RandomNormal => "RANDOM NORMAL",
            RandomExponential => "RANDOM EXPONENTIAL",
            RandomPoisson => "RANDOM POISSON",
            RandomGamma => "RANDOM GAMMA",
            RandomBeta => "RANDOM BETA",
            RandomBinomial => "RANDOM BINOMIAL",
            RandomWeibull => "RANDOM WEIBULL",
            RandomTriangular => "RANDOM TRIANGULAR",
            RandomPinkNoise => "RANDOM PINK NOISE",
            Random01 => "RANDOM 0 1",
            RandomXmile => "RANDOM",
            NormalXmile => "NORMAL",
            PoissonXmile => "POISSON",
            ExpRndXmile => "EXPRND",
        }
    }

    /// The arguments, for error messages.
    pub(crate) fn signature(self) -> &'static str {
        use Builtin::*;
        match self {
            Pi => "no arguments",
            Abs | Exp | Ln | Log10 | Sqrt | Sin | Cos | Tan | Arcsin | Arccos | Arctan | Sinh
            | Cosh | Tanh | Integer | Int | Round | Sign | GammaLn => "x",
            Log => "x[, base]",
            Modulo => "dividend, divisor",
            Power => "base, exponent",
            Min | Max => "a, b, ... or one array",
            Sum | Mean => "array",
            Xidz => "numerator, denominator, value if denominator is zero",
            Zidz => "numerator, denominator",
            SafeDiv => "numerator, denominator[, value if denominator is zero]",
            Step => "height, step time",
            Pulse => "start, width",
            PulseTrain => "start, width, interval, end",
            Ramp => "slope, start[, end]",
            Initial => "value",
            Delay1 | Delay3 | DelayXmile => "input, delay time[, initial value]",
            Delay1I | Delay3I => "input, delay time, initial value",
            DelayN => "input, delay time, initial value, order",
            DelayNXmile => "input, delay time, order[, initial value]",
            DelayFixed => "input, delay time, initial value",
            Smooth | Smooth3 => "input, smoothing time[, initial value]",
            SmoothI | Smooth3I => "input, smoothing time, initial value",
            SmoothN => "input, smoothing time, initial value, order",
            SmoothNXmile => "input, smoothing time, order[, initial value]",
            Trend => "input, averaging time[, initial trend]",
            Forecast => "input, averaging time, horizon",
            ForecastXmile => "input, averaging time, horizon[, initial trend]",
            Previous => "value, initial value",
            Quantum => "x, quantum",
            SampleIfTrue => "condition, input, initial value",
            Game => "x",
            Lookup | LookupExtrapolate | LookupForward | LookupBackward => "lookup name, input",
            LookupInvert => "lookup name, value",
            LookupArea => "lookup name, x1, x2",
            Npv => "stream, discount rate, initial value, factor",
            VectorSelect => {
                "selection[d!], expression[d!], missing value, numerical action, error action"
            }
            VectorSortOrder | VectorRank => "vector[d], direction",
            VectorReorder => "vector[d], order[d]",
            VectorElmMap => "vector[base element], offset",
            AllocateByPriority => "request[d], priority[d], size, width, supply",
            AllocateAvailable => "request[d], priority profiles[d, pprofile], available",
            InvertMatrix => "matrix[d1, d2], size",
            RankXmile => "array, rank",
            ActiveInitial => "active value, initial value",
            GetDataAtTime => "data variable, time",
            GetDataFirstTime | GetDataLastTime => "data variable",
            GetTimeValue => "relative to, offset, measure",
            RandomUniform => "min, max, seed",
            RandomNormal => "min, max, mean, standard deviation, seed",
            RandomExponential => "min, max, shift, stretch, seed",
            RandomPoisson => "min, max, mean, shift, stretch, seed",
            RandomGamma => "min, max, order, shift, stretch, seed",
            RandomBeta => "min, max, alpha, beta, shift, stretch, seed",
            RandomBinomial => "min, max, probability, trials, shift, stretch, seed",
            RandomWeibull => "min, max, shape, shift, stretch, seed",
            RandomTriangular => "min, max, start, peak, end, seed",
            RandomPinkNoise => "mean, standard deviation, correlation time, seed",
            Random01 => "no arguments",
            RandomXmile => "min, max[, seed]",
            NormalXmile => "mean, standard deviation[, seed]",
            PoissonXmile | ExpRndXmile => "mean[, seed]",
        }
    }

    /// Whether the function works on whole vectors (its array arguments
    /// are read as arrays, not element by element).
    pub(crate) fn is_vector(self) -> bool {
        use Builtin::*;
        matches!(
            self,
            VectorSelect
                | VectorSortOrder
                | VectorRank
                | VectorReorder
                | VectorElmMap
                | AllocateByPriority
                | AllocateAvailable
                | InvertMatrix
                | RankXmile
        )
    }
}
